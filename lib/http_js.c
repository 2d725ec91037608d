/* http_js: HTTP/1.x message framing (RFC 9112 section 6), chunked transfer
   coding (RFC 9112 section 7.1), gzip and deflate content coding (RFC 9110
   section 8.4.1) with zlib, and a small scan of HTML for <script> elements. */
#include "http_js.h"
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/types.h>
#include <unistd.h>
#include <zlib.h>

#define MAX_LINE 65536
#define MAX_HEADERS 512
#define MAX_REQUESTS 1000000

/* ----------------------------------------------------- a direction's bytes */

typedef struct rb {
    const uint8_t *buf; /* the direction's bytes, NULL when there are none */
    size_t pos, len;
    int eof, err;       /* err stays 0: memory cannot fail to be read */
} rb;

static void rb_init(rb *r, const uint8_t *data, size_t len) {
    r->buf = data;
    r->pos = 0;
    r->len = data ? len : 0;
    r->eof = 1;
    r->err = 0;
}

static uint64_t rb_tell(const rb *r) { return r->pos; }

/* 1 while bytes are left, 0 at the end */
static int rb_fill(rb *r) { return r->pos < r->len; }

/* a line without its CRLF or LF into line (NUL-terminated); -1 at the end
   of input or when longer than MAX_LINE */
static int rb_line(rb *r, char *line, size_t *out_len) {
    size_t n = 0;
    for (;;) {
        const uint8_t *p, *nl;
        size_t avail, take;
        if (!rb_fill(r)) return -1;
        p = r->buf + r->pos;
        avail = r->len - r->pos;
        nl = (uint8_t *)memchr(p, '\n', avail);
        take = nl ? (size_t)(nl - p) : avail;
        if (take > MAX_LINE - 1 - n) return -1;
        memcpy(line + n, p, take);
        n += take;
        r->pos += take;
        if (nl) {
            r->pos++;
            if (n && line[n - 1] == '\r') n--;
            line[n] = 0;
            *out_len = n;
            return 0;
        }
    }
}

/* ------------------------------------------------------------- bytes */

typedef struct vec {
    const tcps_allocator *mem;
    uint8_t *p;
    size_t n, cap;
    int over; /* more than the limit arrived */
} vec;

static int vec_add(vec *v, const uint8_t *p, size_t n, size_t limit) {
    if (!n) return 0;
    if (v->over) return 0;
    if (n > limit - v->n) {
        v->over = 1;
        return 0;
    }
    if (v->n + n > v->cap) {
        size_t nc = v->cap ? v->cap : 4096;
        uint8_t *np;
        while (nc < v->n + n) nc = nc > limit / 2 ? limit : nc * 2;
        np = (uint8_t *)tsl_mem_realloc(v->mem, v->p, v->cap, nc);
        if (!np) return -1;
        v->p = np;
        v->cap = nc;
    }
    memcpy(v->p + v->n, p, n);
    v->n += n;
    return 0;
}

/* read (and keep when keep != NULL) n bytes: 0, 1 when input ended early, -1 oom */
static int rb_take(rb *r, uint64_t n, vec *keep) {
    while (n) {
        size_t take;
        if (!rb_fill(r)) return 1;
        take = r->len - r->pos;
        if (take > n) take = (size_t)n;
        if (keep && vec_add(keep, r->buf + r->pos, take, HTTP_JS_MAX_BODY) < 0) return -1;
        r->pos += take;
        n -= take;
    }
    return 0;
}

static int ieq_prefix(const char *s, const char *prefix) {
    for (; *prefix; s++, prefix++)
        if (tolower((unsigned char)*s) != *prefix) return 0;
    return 1;
}

static const char *istrstr(const char *h, const char *needle) {
    for (; *h; h++)
        if (ieq_prefix(h, needle)) return h;
    return NULL;
}

static void trim_copy(char *dst, size_t cap, const char *src) {
    size_t n;
    while (*src == ' ' || *src == '\t') src++;
    n = strlen(src);
    while (n && (src[n - 1] == ' ' || src[n - 1] == '\t')) n--;
    if (n >= cap) n = cap - 1;
    memcpy(dst, src, n);
    dst[n] = 0;
}

/* ------------------------------------------------------------ messages */

typedef struct msg {
    int is_response, status;
    char method[16];
    int has_len, chunked, close_delim;
    uint64_t content_length;
    char ctype[256], cenc[64];
} msg;

/* start line and headers: 0, 1 at a clean end (no more messages), -1 when
   not HTTP or malformed */
static int read_head(rb *r, msg *m, int response, char *line) {
    size_t n;
    int nh = 0;
    memset(m, 0, sizeof *m);
    m->is_response = response;
    do { /* empty lines before a message are allowed (RFC 9112 2.2) */
        if (rb_line(r, line, &n) < 0) return r->pos >= r->len && r->eof && !r->err ? 1 : -1;
    } while (n == 0);
    if (response) {
        if (strncmp(line, "HTTP/1.", 7) != 0 || !isdigit((unsigned char)line[7]) || line[8] != ' ' ||
            !isdigit((unsigned char)line[9]) || !isdigit((unsigned char)line[10]) ||
            !isdigit((unsigned char)line[11]))
            return -1;
        m->status = (line[9] - '0') * 100 + (line[10] - '0') * 10 + (line[11] - '0');
    } else {
        const char *sp = strchr(line, ' ');
        size_t ml = sp ? (size_t)(sp - line) : 0;
        if (!ml || ml >= sizeof m->method || !strstr(line, " HTTP/1.")) return -1;
        memcpy(m->method, line, ml);
        m->method[ml] = 0;
    }
    for (;;) {
        char *colon;
        if (rb_line(r, line, &n) < 0) return -1;
        if (n == 0) break;
        if (++nh > MAX_HEADERS) return -1;
        colon = strchr(line, ':');
        if (!colon) continue;
        *colon = 0;
        if (!strcasecmp(line, "content-length")) {
            char *end;
            unsigned long long v;
            errno = 0;
            v = strtoull(colon + 1, &end, 10);
            if (errno || end == colon + 1) return -1;
            m->has_len = 1;
            m->content_length = v;
        } else if (!strcasecmp(line, "transfer-encoding")) {
            /* chunked when it is the last coding */
            const char *c = istrstr(colon + 1, "chunked");
            m->chunked = c != NULL;
        } else if (!strcasecmp(line, "content-type")) {
            trim_copy(m->ctype, sizeof m->ctype, colon + 1);
        } else if (!strcasecmp(line, "content-encoding")) {
            trim_copy(m->cenc, sizeof m->cenc, colon + 1);
        }
    }
    return 0;
}

/* read the body; keep it in body when body != NULL. 0, 1 cut short, -1 oom, -2 malformed */
static int read_body(rb *r, const msg *m, int no_body, vec *body, char *line) {
    size_t n;
    if (no_body) return 0;
    if (m->chunked) {
        for (;;) {
            char *end;
            unsigned long long sz;
            int rc;
            if (rb_line(r, line, &n) < 0) return 1;
            errno = 0;
            sz = strtoull(line, &end, 16);
            if (end == line || errno) return -2;
            if (sz == 0) break;
            rc = rb_take(r, sz, body);
            if (rc) return rc;
            if (rb_line(r, line, &n) < 0) return 1;
        }
        do { /* trailer section */
            if (rb_line(r, line, &n) < 0) return 0;
        } while (n != 0);
        return 0;
    }
    if (m->has_len) return rb_take(r, m->content_length, body);
    if (m->is_response) return rb_take(r, UINT64_MAX, body); /* to the end of the connection */
    return 0;
}

/* undo gzip or deflate (zlib or raw); 0 ok, 1 not decodable, -1 oom */
static int inflate_all(const vec *in, vec *out, const char *enc) {
    z_stream z;
    uint8_t buf[65536];
    int wbits, zrc, tried_raw = 0;
    wbits = ieq_prefix(enc, "deflate") ? 15 : 15 + 16;
again:
    memset(&z, 0, sizeof z);
    if (inflateInit2(&z, wbits) != Z_OK) return -1;
    z.next_in = in->p;
    z.avail_in = (uInt)(in->n > 0xffffffffu ? 0xffffffffu : in->n);
    do {
        z.next_out = buf;
        z.avail_out = sizeof buf;
        zrc = inflate(&z, Z_NO_FLUSH);
        if (zrc == Z_DATA_ERROR && wbits == 15 && !tried_raw && out->n == 0) {
            /* some servers send raw deflate as "deflate" */
            inflateEnd(&z);
            wbits = -15;
            tried_raw = 1;
            goto again;
        }
        if (zrc != Z_OK && zrc != Z_STREAM_END && zrc != Z_BUF_ERROR) break;
        if (vec_add(out, buf, sizeof buf - z.avail_out, HTTP_JS_MAX_DECODED) < 0) {
            inflateEnd(&z);
            return -1;
        }
        if (out->over) break;
        if (zrc == Z_BUF_ERROR && z.avail_out != 0) break; /* input ended */
    } while (zrc != Z_STREAM_END);
    inflateEnd(&z);
    if (out->over) return 1;
    /* a cut stream still gives what was decoded */
    return out->n || zrc == Z_STREAM_END ? 0 : 1;
}

static int is_js_type(const char *t) {
    return istrstr(t, "javascript") || istrstr(t, "ecmascript") || istrstr(t, "jscript");
}

static int is_html_type(const char *t) { return istrstr(t, "text/html") || istrstr(t, "xhtml") != NULL; }

/* find needle (lower case) in p[0..n) ignoring case */
static const uint8_t *mem_ifind(const uint8_t *p, size_t n, const char *needle) {
    size_t k = strlen(needle), i, j;
    if (n < k) return NULL;
    for (i = 0; i + k <= n; i++) {
        for (j = 0; j < k && tolower(p[i + j]) == needle[j]; j++) {}
        if (j == k) return p + i;
    }
    return NULL;
}

/* the value of attribute name in a start tag's attributes, or 0 when absent */
static int tag_attr(const uint8_t *a, size_t n, const char *name, char *val, size_t cap) {
    size_t i = 0, k = strlen(name);
    while (i < n) {
        size_t s, e;
        while (i < n && (isspace(a[i]) || a[i] == '/')) i++;
        s = i;
        while (i < n && !isspace(a[i]) && a[i] != '=' && a[i] != '/') i++;
        e = i;
        while (i < n && isspace(a[i])) i++;
        if (i < n && a[i] == '=') {
            size_t vs, ve;
            i++;
            while (i < n && isspace(a[i])) i++;
            if (i < n && (a[i] == '"' || a[i] == '\'')) {
                uint8_t q = a[i++];
                vs = i;
                while (i < n && a[i] != q) i++;
                ve = i;
                if (i < n) i++;
            } else {
                vs = i;
                while (i < n && !isspace(a[i])) i++;
                ve = i;
            }
            if (e - s == k && mem_ifind(a + s, k, name) == a + s) {
                size_t l = ve - vs < cap - 1 ? ve - vs : cap - 1;
                memcpy(val, a + vs, l);
                val[l] = 0;
                return 1;
            }
        } else if (e - s == k && mem_ifind(a + s, k, name) == a + s) {
            val[0] = 0;
            return 1;
        }
        if (e == s && i < n) i++;
    }
    return 0;
}

static int scan_html(const uint8_t *p, size_t n, http_js_found *f,
                     int (*found)(const http_js_found *, void *), void *user, http_js_result *res) {
    const uint8_t *end = p + n;
    while (p < end) {
        const uint8_t *tag = mem_ifind(p, (size_t)(end - p), "<script"), *gt, *body, *close, *q;
        char type[128];
        int rc;
        if (!tag) break;
        q = tag + 7;
        if (q < end && !isspace(*q) && *q != '>' && *q != '/') { /* <scripts>, <script-x> */
            p = q;
            continue;
        }
        gt = (const uint8_t *)memchr(q, '>', (size_t)(end - q));
        if (!gt) break;
        body = gt + 1;
        close = mem_ifind(body, (size_t)(end - body), "</script");
        if (!close) close = end; /* cut page: what there is */
        p = close;
        if (tag_attr(q, (size_t)(gt - q), "type", type, sizeof type) && type[0] && !is_js_type(type) &&
            !ieq_prefix(type, "module"))
            continue;
        for (q = body; q < close && isspace(*q); q++) {}
        if (q == close) continue; /* empty: src= or blank */
        f->kind = HTTP_JS_INLINE;
        f->data = body;
        f->len = (size_t)(close - body);
        res->scripts++;
        if ((rc = found(f, user)) != 0) return rc;
    }
    return 0;
}

int http_js_scan(const uint8_t *c2s, size_t c2s_len, const uint8_t *s2c, size_t s2c_len,
                 int (*found)(const http_js_found *f, void *user), void *user, http_js_result *res,
                 const tcps_allocator *allocator) {
    tcps_allocator mem;
    rb *r = NULL;
    char *line = NULL;
    uint8_t *head_flags = NULL; /* per request: 1 HEAD, 2 CONNECT */
    size_t nreq = 0, cap_req = 0, next_req = 0;
    vec body, dec;
    int ret = 0;
    memset(res, 0, sizeof *res);
    memset(&body, 0, sizeof body);
    memset(&dec, 0, sizeof dec);
    if (!s2c) return 0;
    if (allocator) mem = *allocator;
    else memset(&mem, 0, sizeof mem);
    tsl_mem_default(&mem);
    body.mem = dec.mem = &mem;
    r = (rb *)mem.alloc(sizeof *r, mem.user);
    line = (char *)mem.alloc(MAX_LINE, mem.user);
    if (!r || !line) {
        ret = -1;
        goto out;
    }
    /* requests first: which responses have no body */
    if (c2s) {
        rb_init(r, c2s, c2s_len);
        for (;;) {
            msg m;
            int rc = read_head(r, &m, 0, line);
            if (rc) break;
            if (nreq == cap_req && nreq < MAX_REQUESTS) {
                size_t nc = cap_req ? cap_req * 2 : 64;
                uint8_t *nv = (uint8_t *)tsl_mem_realloc(&mem, head_flags, cap_req, nc);
                if (!nv) {
                    ret = -1;
                    goto out;
                }
                head_flags = nv;
                cap_req = nc;
            }
            if (nreq < cap_req)
                head_flags[nreq++] = !strcmp(m.method, "HEAD") ? 1 : !strcmp(m.method, "CONNECT") ? 2 : 0;
            res->requests++;
            rc = read_body(r, &m, 0, NULL, line);
            if (rc) break;
        }
    }
    rb_init(r, s2c, s2c_len);
    for (;;) {
        msg m;
        http_js_found f;
        uint64_t start;
        int rc, no_body, want, is_head = 0, is_connect = 0;
        while (rb_fill(r) && (r->buf[r->pos] == '\r' || r->buf[r->pos] == '\n')) r->pos++;
        start = rb_tell(r);
        rc = read_head(r, &m, 1, line);
        if (rc == 1) break;
        if (rc < 0) {
            if (res->responses == 0) res->not_http = 1;
            else res->stopped = 1;
            break;
        }
        if (m.status >= 200 && next_req < nreq) {
            is_head = head_flags[next_req] == 1;
            is_connect = head_flags[next_req] == 2;
            next_req++;
        }
        no_body = is_head || (m.status >= 100 && m.status < 200) || m.status == 204 || m.status == 304;
        want = !no_body && (is_js_type(m.ctype) || is_html_type(m.ctype));
        body.n = 0;
        body.over = 0;
        rc = read_body(r, &m, no_body, want ? &body : NULL, line);
        if (rc == -1) {
            ret = -1;
            break;
        }
        if (rc == -2) {
            res->stopped = 1;
            break;
        }
        if (m.status >= 200 || m.status < 100) res->responses++;
        if (want && body.over) res->truncated++;
        if (want && !body.over && body.n) {
            const uint8_t *p = body.p;
            size_t n = body.n;
            if (m.cenc[0] && !ieq_prefix(m.cenc, "identity")) {
                if (ieq_prefix(m.cenc, "gzip") || ieq_prefix(m.cenc, "x-gzip") || ieq_prefix(m.cenc, "deflate")) {
                    int zr;
                    dec.n = 0;
                    dec.over = 0;
                    zr = inflate_all(&body, &dec, m.cenc);
                    if (zr < 0) {
                        ret = -1;
                        break;
                    }
                    if (zr) {
                        res->truncated++;
                        n = 0;
                    } else {
                        p = dec.p;
                        n = dec.n;
                    }
                } else {
                    n = 0; /* a coding we cannot undo (br, compress) */
                }
            }
            memset(&f, 0, sizeof f);
            f.response = res->responses - 1;
            f.offset = start;
            f.content_type = m.ctype;
            f.content_encoding = m.cenc;
            f.chunked = m.chunked;
            if (n && is_js_type(m.ctype)) {
                f.kind = HTTP_JS_RESPONSE;
                f.data = p;
                f.len = n;
                res->scripts++;
                if ((ret = found(&f, user)) != 0) break;
            } else if (n) {
                if ((ret = scan_html(p, n, &f, found, user, res)) != 0) break;
            }
        }
        if (rc == 1 || is_connect) break; /* input ended inside the body, or a tunnel */
    }
out:
    if (body.p) mem.free(body.p, body.cap, mem.user);
    if (dec.p) mem.free(dec.p, dec.cap, mem.user);
    if (head_flags) mem.free(head_flags, cap_req, mem.user);
    if (line) mem.free(line, MAX_LINE, mem.user);
    if (r) mem.free(r, sizeof *r, mem.user);
    return ret;
}
