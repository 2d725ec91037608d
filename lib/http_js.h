/* http_js: the JavaScript carried by one TCP session's HTTP/1.x traffic.

   Reads the two directions' delivered bytes from memory (the extract
   writer maps the files it wrote, so a session is never copied whole), pairs responses with requests (a response
   to HEAD, and 1xx, 204 and 304 responses have no body), undoes chunked
   transfer coding and gzip/deflate content coding, and hands over:
     - the body of each response whose Content-Type says JavaScript
       (javascript, ecmascript, jscript in the media type);
     - the contents of each inline <script> element of an HTML body (text/html,
       application/xhtml+xml) that is not blank and whose type attribute, if
       any, names JavaScript or "module".
   Bodies are bounded: HTTP_JS_MAX_BODY bytes as sent and HTTP_JS_MAX_DECODED
   decoded; a larger body is skipped (counted in truncated). Traffic that is
   not HTTP/1.x, or that stops parsing (a gap left a hole in the middle of a
   message), ends the scan quietly with what was found before. */
#ifndef TSL_HTTP_JS_H
#define TSL_HTTP_JS_H

#include <stddef.h>
#include <stdint.h>
#include "tsl.h" /* tcps_allocator, tsl_mem_* */

#define HTTP_JS_MAX_BODY ((size_t)64 << 20)
#define HTTP_JS_MAX_DECODED ((size_t)64 << 20)

#define HTTP_JS_RESPONSE 1 /* a whole response body */
#define HTTP_JS_INLINE 2   /* an inline <script> element */

typedef struct http_js_found {
    int kind;            /* HTTP_JS_RESPONSE or HTTP_JS_INLINE */
    uint64_t response;   /* 0-based index of the response in the session */
    uint64_t offset;     /* stream offset of the response's first byte (s2c, gaps left out) */
    const char *content_type; /* as sent, NUL-terminated */
    const char *content_encoding; /* "" when none */
    int chunked;
    const uint8_t *data; /* the script */
    size_t len;
} http_js_found;

typedef struct http_js_result {
    uint64_t requests, responses, scripts, truncated;
    int not_http;        /* s2c did not start like an HTTP/1.x response */
    int stopped;         /* parsing stopped before the end (malformed or a hole) */
} http_js_result;

/* c2s, s2c: each direction's bytes (c2s_len, s2c_len of them); NULL when
   absent (no s2c: nothing to find). found is called for each script in
   order; a non-zero return stops the scan and is returned. allocator:
   for its buffers (NULL: libc). Returns 0, or -1 when out of memory. */
int http_js_scan(const uint8_t *c2s, size_t c2s_len, const uint8_t *s2c, size_t s2c_len,
                 int (*found)(const http_js_found *f, void *user), void *user, http_js_result *res,
                 const tcps_allocator *allocator);

#endif
