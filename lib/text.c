/* The shared layer's text: endpoints, times, JSON strings, the list row. */
#include "tsl.h"
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

char *tsl_addr_text(const tcps_endpoint *e, char *buf, size_t size) {
    return tcps_addr_to_string(e->addr, e->ip_version, buf, size);
}

char *tsl_endpoint_text(const tcps_endpoint *e, char *buf, size_t size) {
    char a[48];
    tsl_addr_text(e, a, sizeof a);
    snprintf(buf, size, e->ip_version == 6 ? "[%s]:%u" : "%s:%u", a, e->port);
    return buf;
}

int tsl_endpoint_parse(const char *s, size_t n, tcps_endpoint *e) {
    char host[48];
    const char *h = s, *port;
    size_t hl, i;
    unsigned long v = 0;
    memset(e, 0, sizeof *e);
    if (n && s[0] == '[') {
        const char *rb = (const char *)memchr(s, ']', n);
        if (!rb || rb + 1 == s + n || rb[1] != ':') return -1;
        h = s + 1;
        hl = (size_t)(rb - h);
        port = rb + 2;
        e->ip_version = 6;
    } else {
        const char *colon = (const char *)memchr(s, ':', n);
        if (!colon) return -1;
        hl = (size_t)(colon - s);
        port = colon + 1;
        e->ip_version = 4;
    }
    if (hl == 0 || hl >= sizeof host) goto bad;
    memcpy(host, h, hl);
    host[hl] = 0;
    if (inet_pton(e->ip_version == 6 ? AF_INET6 : AF_INET, host, e->addr) != 1) goto bad;
    if (port == s + n || (size_t)(s + n - port) > 5) goto bad;
    for (i = 0; port + i < s + n; i++) {
        if (port[i] < '0' || port[i] > '9') goto bad;
        v = v * 10 + (unsigned long)(port[i] - '0');
    }
    if (v > 65535) goto bad;
    e->port = (uint16_t)v;
    return 0;
bad:
    memset(e, 0, sizeof *e);
    return -1;
}

int tsl_endpoint_pair_parse(const char *s, size_t n, tcps_endpoint pair[2]) {
    const char *comma = (const char *)memchr(s, ',', n);
    if (!comma || tsl_endpoint_parse(s, (size_t)(comma - s), &pair[0]) ||
        tsl_endpoint_parse(comma + 1, (size_t)(s + n - comma - 1), &pair[1]) ||
        pair[0].ip_version != pair[1].ip_version) {
        memset(pair, 0, 2 * sizeof *pair);
        return -1;
    }
    return 0;
}

int tsl_endpoint_eq(const tcps_endpoint *a, const tcps_endpoint *b) {
    return a->ip_version == b->ip_version && a->port == b->port &&
           memcmp(a->addr, b->addr, a->ip_version == 4 ? 4 : 16) == 0;
}

int tsl_session_between(const tcps_session *s, const tcps_endpoint *a, const tcps_endpoint *b) {
    return (tsl_endpoint_eq(&s->client, a) && tsl_endpoint_eq(&s->server, b)) ||
           (tsl_endpoint_eq(&s->client, b) && tsl_endpoint_eq(&s->server, a));
}

char *tsl_time_text(tcps_time t, char *buf, size_t size) {
    snprintf(buf, size, "%lld.%09u", (long long)t.sec, t.nsec);
    return buf;
}

void tsl_json_chars(FILE *f, const void *s, size_t n) {
    static const char hx[] = "0123456789abcdef";
    const unsigned char *p = (const unsigned char *)s;
    size_t i, run = 0; /* bytes that need no escape, written in one call */
    for (i = 0; i < n; i++) {
        unsigned char ch = p[i];
        char esc[7];
        size_t el = 2;
        if (ch >= 0x20 && ch <= 0x7e && ch != '"' && ch != '\\') continue;
        if (i > run) fwrite(p + run, 1, i - run, f);
        run = i + 1;
        esc[0] = '\\';
        if (ch == '"' || ch == '\\') esc[1] = (char)ch;
        else if (ch == '\n') esc[1] = 'n';
        else if (ch == '\r') esc[1] = 'r';
        else if (ch == '\t') esc[1] = 't';
        else {
            memcpy(esc + 1, "u00", 3);
            esc[4] = hx[ch >> 4];
            esc[5] = hx[ch & 15];
            el = 6;
        }
        fwrite(esc, 1, el, f);
    }
    if (n > run) fwrite(p + run, 1, n - run, f);
}

void tsl_json_str(FILE *f, const void *s, size_t n) {
    putc('"', f);
    tsl_json_chars(f, s, n);
    putc('"', f);
}

void tsl_row_members(FILE *f, const tsl_row *r, const char *capture) {
    char c[48], s[48], t0[32], t1[32];
    const char *end = tcps_end_name(r->end);
    fprintf(f,
            "\"stream\":%llu,\"client_ip\":\"%s\",\"client_port\":%u,\"server_ip\":\"%s\",\"server_port\":%u,"
            "\"c2s_bytes\":%llu,\"s2c_bytes\":%llu,\"c2s_missing\":%llu,\"s2c_missing\":%llu,"
            "\"c2s_sha256\":\"%s\",\"s2c_sha256\":\"%s\",\"packets\":%llu,\"first_ts\":%s,\"last_ts\":%s,"
            "\"end\":\"%s\"",
            (unsigned long long)r->stream, tsl_addr_text(&r->client, c, sizeof c), r->client.port,
            tsl_addr_text(&r->server, s, sizeof s), r->server.port, (unsigned long long)r->bytes[0],
            (unsigned long long)r->bytes[1], (unsigned long long)r->missing[0],
            (unsigned long long)r->missing[1], r->sha256[0], r->sha256[1], (unsigned long long)r->packets,
            tsl_time_text(r->first, t0, sizeof t0), tsl_time_text(r->last, t1, sizeof t1), end ? end : "open");
    if (capture) {
        fputs(",\"capture\":", f);
        tsl_json_str(f, capture, strlen(capture));
    }
}

void tsl_row_json(FILE *f, const tsl_row *r, const char *capture) {
    putc('{', f);
    tsl_row_members(f, r, capture);
    fputs("}\n", f);
}

char *tsl_row_json_string(const tsl_row *r, const char *capture) {
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f) return NULL;
    tsl_row_json(f, r, capture);
    if (fclose(f) != 0) {
        free(buf);
        return NULL;
    }
    return buf;
}
