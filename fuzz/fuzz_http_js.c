/* fuzz_http_js - libFuzzer harness for the shared layer's HTTP/JavaScript
   extraction (lib/http_js.c, with zlib), on memory: HTTP/1.x framing of
   both directions, Content-Length and chunked bodies, gzip/deflate content
   coding, request/response pairing (HEAD, CONNECT, 1xx, 204, 304) and the
   <script> scan of HTML bodies.

       make fuzz fuzz-corpus
       build/fuzz/fuzz_http_js -dict=fuzz/http_js.dict build/fuzz/corpus/http_js build/fuzz/seeds/http_js
   A crash file reproduces without libFuzzer:
       build/fuzz/fuzz_http_js-replay crash-<hash>

   Input: 7 option bytes, the client's bytes, the server's bytes.
     byte 0     bit 0: no client direction (NULL), bit 1: no server direction,
                bits 2-7: the callback stops the scan at the n-th script
                (0: never)
     bytes 1-2  length of the client's bytes (big endian; cut to what is left)
     bytes 3-6  unused (they were read sizes when the scan read files)
   Each direction is an exactly sized copy, so a read past either end
   faults. Checked: the result is 0, or what the callback returned when it
   stopped the scan; every script has a kind, a response index below the
   responses counted, a content type and encoding (NUL-terminated), at
   least one byte, all readable; the scripts counted equal the callbacks
   made. */
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FZ_NAME "fuzz_http_js"
#include "fuzz_common.h"
#include "http_js.h"
/* the rest of the shared layer is linked in too, and it calls the engine */
#define TCPSESSION_IMPLEMENTATION
#include "tcpsession.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct hj_state {
    unsigned long calls, stop_at;
    http_js_result *res;
    unsigned sum;
} hj_state;

static int on_found(const http_js_found *f, void *user) {
    hj_state *st = (hj_state *)user;
    st->calls++;
    FZ_CHECK(f->kind == HTTP_JS_RESPONSE || f->kind == HTTP_JS_INLINE, "unknown kind");
    FZ_CHECK(f->response < st->res->responses, "script of a response not counted yet");
    FZ_CHECK(f->content_type != NULL && f->content_encoding != NULL, "content type or encoding missing");
    FZ_CHECK(strlen(f->content_type) < 65536 && strlen(f->content_encoding) < 65536, "header value too long");
    FZ_CHECK(f->len > 0 && f->data != NULL, "an empty script");
    FZ_CHECK(f->chunked == 0 || f->chunked == 1, "chunked is not 0 or 1");
    st->sum += fz_touch(f->data, f->len);
    FZ_CHECK(st->calls == st->res->scripts, "scripts counted differ from the callbacks made");
    if (st->stop_at && st->calls == st->stop_at) return 7;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    http_js_result res;
    hj_state st;
    size_t c2s_len, rest;
    uint8_t *c2s, *s2c;
    int ret;

    if (size < 7) return 0;
    rest = size - 7;
    c2s_len = (size_t)data[1] << 8 | data[2];
    if (c2s_len > rest) c2s_len = rest;
    /* exactly sized copies, so reads past either end fault */
    c2s = (uint8_t *)malloc(c2s_len ? c2s_len : 1);
    s2c = (uint8_t *)malloc(rest - c2s_len ? rest - c2s_len : 1);
    if (!c2s || !s2c) {
        free(c2s);
        free(s2c);
        return 0;
    }
    memcpy(c2s, data + 7, c2s_len);
    memcpy(s2c, data + 7 + c2s_len, rest - c2s_len);
    memset(&st, 0, sizeof st);
    st.stop_at = data[0] >> 2;
    st.res = &res;

    ret = http_js_scan((data[0] & 1) ? NULL : c2s, c2s_len, (data[0] & 2) ? NULL : s2c, rest - c2s_len, on_found, &st,
                       &res, NULL);
    if (st.stop_at && st.calls == st.stop_at)
        FZ_CHECK(ret == 7, "the scan went on after the callback stopped it");
    else
        FZ_CHECK(ret == 0, "the scan failed (out of memory?) or stopped by itself with a code");
    FZ_CHECK(res.scripts == st.calls, "scripts counted differ from the callbacks made");
    FZ_CHECK(!(res.not_http && res.responses), "not HTTP, yet responses were counted");
    if (data[0] & 2) FZ_CHECK(res.responses == 0 && res.requests == 0 && st.calls == 0, "a scan without a server side");
    free(c2s);
    free(s2c);
    return 0;
}
