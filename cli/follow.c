/* tcpsession follow: one session as `tshark -q -z follow,tcp,MODE,N` prints it.

   The output is meant to be byte-identical to tshark 4.0's, so that scripts
   can switch tools by changing one word. What tshark prints, and so what is
   printed here:

   - per request, unless the mode is yaml: an empty line, a separator line,
     "Follow: tcp,MODE", "Filter: tcp.stream eq N" (or the address filter),
     "Node 0: ip:port" (the source of the stream's first packet) and
     "Node 1: ip:port" (IPv6 as [addr]:port; ":0" when there is no such
     stream), the records, then the separator again;
   - one record per TCP segment's new bytes, or per out-of-order segment
     when it is released later (with that segment's own frame and time);
     records of node 1 are marked by a leading TAB (every line, in hex);
   - a hole that the receiver acknowledged while later data was waiting
     behind it becomes the record "[N bytes missing in capture file]"
     followed by a NUL byte, in the sender's direction, numbered with the
     acknowledging packet and with time 0;
   - data still waiting behind a hole when the capture ends is left out;
   - several requests print in the reverse of the order they were given.

   Modes: ascii (length line, then the bytes with every non-printable byte
   but CR and LF as '.'), ebcdic (the same, then translated from EBCDIC),
   hex (a hex dump with offsets counted per direction), raw (the bytes in
   lower-case hex, a line per record) and yaml (peers, then per record the
   packet number, peer, timestamp and base64 data).

   Only the followed sessions' records are kept, and reading stops as soon
   as all of them have ended. */
#include "tcpsession.h"
#include "cli.h"
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define FW_ASCII 0
#define FW_EBCDIC 1
#define FW_HEX 2
#define FW_RAW 3
#define FW_YAML 4

static const char *const fw_mode_names[] = {"ascii", "ebcdic", "hex", "raw", "yaml"};

#define FW_STOP 1000 /* returned by a hook: every followed session has ended */

static const char fw_sep[] = "===================================================================\n";

typedef struct fw_rec {
    uint64_t frame;
    tcps_time ts;
    size_t off, len; /* into the target's byte store */
    uint8_t node1;
} fw_rec;

/* One followed session (several requests may share it). */
typedef struct fw_target {
    int by_tuple;
    uint64_t stream;
    tcps_endpoint a, b; /* by_tuple */
    int found, done;
    const tcps_session *sess; /* the engine's, from open to close */
    tcps_endpoint node[2];
    int first_dir;
    fw_rec *rec;
    size_t n, cap;
    uint8_t *bytes;
    size_t blen, bcap;
    /* an acknowledged hole waits for the data after it */
    int pend[2];
    uint64_t pend_len[2], pend_frame[2];
    int dropped[2]; /* a hole at the end: what follows is not printed */
    struct fw_target *next_same; /* other targets bound to the same session */
} fw_target;

typedef struct fw_req {
    int mode;
    unsigned long cmin, cmax; /* records printed, counted from 1 */
    fw_target *t;
    char filter[512];
} fw_req;

typedef struct fw_state {
    fw_req *req;
    size_t nreq;
    fw_target **tg;
    size_t ntg;
    int all_data;
    int oom;
} fw_state;

/* ------------------------------------------------------------ records */

static int fw_add(fw_state *st, fw_target *t, int node1, uint64_t frame, tcps_time ts, const uint8_t *p,
                  size_t len) {
    fw_rec *r;
    if (t->n == t->cap) {
        size_t nc = t->cap ? t->cap * 2 : 64;
        fw_rec *nv = (fw_rec *)realloc(t->rec, nc * sizeof *nv);
        if (!nv) return st->oom = CLI_INTERNAL;
        t->rec = nv, t->cap = nc;
    }
    if (len > t->bcap - t->blen) {
        size_t nc = t->bcap ? t->bcap : 4096;
        uint8_t *nb;
        while (nc - t->blen < len) {
            if (nc > SIZE_MAX / 2) return st->oom = CLI_INTERNAL;
            nc *= 2;
        }
        nb = (uint8_t *)realloc(t->bytes, nc);
        if (!nb) return st->oom = CLI_INTERNAL;
        t->bytes = nb, t->bcap = nc;
    }
    memcpy(t->bytes + t->blen, p, len);
    r = &t->rec[t->n++];
    r->frame = frame;
    r->ts = ts;
    r->off = t->blen;
    r->len = len;
    r->node1 = (uint8_t)node1;
    t->blen += len;
    return 0;
}

static int fw_marker(fw_state *st, fw_target *t, int node1, uint64_t missing, uint64_t frame) {
    char txt[80];
    tcps_time zero = {0, 0};
    /* tshark prints the count as a C int and keeps the terminating NUL */
    int n = snprintf(txt, sizeof txt, "[%d bytes missing in capture file]", (int)(uint32_t)missing);
    return fw_add(st, t, node1, frame, zero, (const uint8_t *)txt, (size_t)n + 1);
}

static int on_open(tsl_session *cs, const tcps_event *ev, void *user) {
    fw_state *st = (fw_state *)user;
    fw_target *head = NULL;
    size_t i;
    (void)ev;
    for (i = st->ntg; i-- > 0;) {
        fw_target *t = st->tg[i];
        int hit;
        if (t->found) continue;
        if (t->by_tuple)
            hit = tsl_session_between(cs->s, &t->a, &t->b);
        else
            hit = t->stream == cs->stream;
        if (!hit) continue;
        t->found = 1;
        t->sess = cs->s;
        t->first_dir = cs->first_dir;
        t->node[0] = cs->first_dir == TCPS_C2S ? cs->client : cs->server;
        t->node[1] = cs->first_dir == TCPS_C2S ? cs->server : cs->client;
        t->next_same = head;
        head = t;
    }
    cs->user = head;
    return 0;
}

static int on_data(tsl_session *cs, const tcps_event *ev, void *user) {
    fw_state *st = (fw_state *)user;
    fw_target *t;
    for (t = (fw_target *)cs->user; t; t = t->next_same) {
        int d = ev->dir, node1 = d != t->first_dir;
        if (t->dropped[d]) continue;
        if (t->pend[d]) {
            t->pend[d] = 0;
            if (fw_marker(st, t, node1, t->pend_len[d], t->pend_frame[d])) return st->oom;
        }
        if (fw_add(st, t, node1, ev->data_frame, ev->data_ts, ev->data.ptr, ev->data.len)) return st->oom;
    }
    return 0;
}

static int on_gap(tsl_session *cs, const tcps_event *ev, void *user) {
    fw_state *st = (fw_state *)user;
    fw_target *t;
    for (t = (fw_target *)cs->user; t; t = t->next_same) {
        int d = ev->dir, node1 = d != t->first_dir;
        if (t->dropped[d]) continue;
        if (st->all_data) {
            if (fw_marker(st, t, node1, ev->length, ev->frame)) return st->oom;
            continue;
        }
        switch (ev->reason) {
        case TCPS_GAP_ACKED:
            /* tshark marks it only when data follows it */
            t->pend[d] = 1;
            t->pend_len[d] = ev->length;
            t->pend_frame[d] = ev->frame;
            break;
        case TCPS_GAP_CLOSE:
            /* tshark never releases what waits behind a hole at the end */
            t->dropped[d] = 1;
            t->pend[d] = 0;
            break;
        case TCPS_GAP_TRUNCATED:
            break; /* tshark prints the captured bytes and says nothing */
        default:
            /* a buffer limit forced data out: tshark has no such limit, so
               say where the bytes went missing */
            if (fw_marker(st, t, node1, ev->length, ev->frame)) return st->oom;
            break;
        }
    }
    return 0;
}

static int on_close(tsl_session *cs, const tcps_event *ev, void *user) {
    fw_state *st = (fw_state *)user;
    fw_target *t;
    size_t i;
    (void)ev;
    for (t = (fw_target *)cs->user; t; t = t->next_same) t->done = 1, t->sess = NULL;
    if (!cs->user) return 0;
    for (i = 0; i < st->ntg; i++)
        if (!st->tg[i]->done) return 0;
    return FW_STOP; /* nothing more to follow: stop reading */
}

/* After each packet: once every followed session is closed or ends by FINs
   (whose bytes are final while its close waits linger_ms for late
   segments), nothing more can be printed: stop reading. */
static int on_packet(uint64_t sessions, void *user) {
    fw_state *st = (fw_state *)user;
    size_t i;
    (void)sessions;
    for (i = 0; i < st->ntg; i++) {
        const fw_target *t = st->tg[i];
        if (!t->done && !(t->sess && t->sess->ending == TCPS_END_FIN)) return 0;
    }
    return FW_STOP;
}

/* ------------------------------------------------------------- output */

static void fw_node(const fw_target *t, int i, char *buf, size_t size) {
    char a[64];
    if (!t->found) {
        snprintf(buf, size, ":0");
        return;
    }
    tsl_addr_text(&t->node[i], a, sizeof a);
    snprintf(buf, size, t->node[i].ip_version == 6 ? "[%s]:%u" : "%s:%u", a, t->node[i].port);
}

/* tshark's hex dump: the offset (upper-case hex, counted per direction over
   the whole stream), 16 bytes in lower-case hex with an extra space after
   the 8th, then the bytes as text from column 60 with the same extra space;
   one trailing space is dropped. */
static void fw_hex(FILE *f, int node1, uint32_t offset, const uint8_t *p, size_t len) {
    static const char hx[] = "0123456789abcdef";
    char line[96];
    size_t i = 0;
    while (i < len) {
        size_t k, n = len - i < 16 ? len - i : 16, end = 60;
        snprintf(line, sizeof line, "%08X", (unsigned)offset);
        memset(line + 8, ' ', sizeof line - 8);
        for (k = 0; k < n; k++) {
            uint8_t v = p[i + k];
            size_t h = 10 + 3 * k + (k >= 8), a = 60 + k + (k >= 8);
            line[h] = hx[v >> 4];
            line[h + 1] = hx[v & 15];
            line[a] = v >= 0x20 && v < 0x7f ? (char)v : '.';
            end = a + 1;
        }
        if (n == 8) line[end++] = ' '; /* the column gap after the 8th byte */
        if (line[end - 1] == ' ') end--;
        line[end] = 0;
        if (node1) putc('\t', f);
        fputs(line, f);
        putc('\n', f);
        offset += 16;
        i += n;
    }
}

static void fw_base64(FILE *f, const uint8_t *p, size_t len) {
    static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t i;
    for (i = 0; i + 2 < len; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
        putc(b64[v >> 18], f);
        putc(b64[(v >> 12) & 63], f);
        putc(b64[(v >> 6) & 63], f);
        putc(b64[v & 63], f);
    }
    if (len - i == 1) {
        uint32_t v = (uint32_t)p[i] << 16;
        putc(b64[v >> 18], f);
        putc(b64[(v >> 12) & 63], f);
        fputs("==", f);
    } else if (len - i == 2) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8;
        putc(b64[v >> 18], f);
        putc(b64[(v >> 12) & 63], f);
        putc(b64[(v >> 6) & 63], f);
        putc('=', f);
    }
}

static unsigned char fw_ebcdic(unsigned char c);

static void fw_print(FILE *f, const fw_req *q) {
    const fw_target *t = q->t;
    char n0[80], n1[80];
    uint32_t pos[2] = {0, 0};
    size_t i;
    fw_node(t, 0, n0, sizeof n0);
    fw_node(t, 1, n1, sizeof n1);
    if (q->mode == FW_YAML) {
        char a[64] = "", b[64] = "";
        if (t->found) {
            tsl_addr_text(&t->node[0], a, sizeof a);
            tsl_addr_text(&t->node[1], b, sizeof b);
        }
        fprintf(f, "peers:\n  - peer: 0\n    host: %s\n    port: %u\n  - peer: 1\n    host: %s\n    port: %u\npackets:\n",
                a, t->found ? t->node[0].port : 0, b, t->found ? t->node[1].port : 0);
    } else {
        fprintf(f, "\n%sFollow: tcp,%s\nFilter: %s\nNode 0: %s\nNode 1: %s\n", fw_sep, fw_mode_names[q->mode],
                q->filter, n0, n1);
    }
    for (i = 0; i < t->n; i++) {
        const fw_rec *r = &t->rec[i];
        const uint8_t *p = t->bytes + r->off;
        size_t k;
        unsigned long chunk = (unsigned long)i + 1;
        if (chunk < q->cmin || chunk > q->cmax) {
            pos[r->node1] += (uint32_t)r->len;
            continue;
        }
        switch (q->mode) {
        case FW_ASCII:
        case FW_EBCDIC:
            fprintf(f, "%s%u\n", r->node1 ? "\t" : "", (unsigned)r->len);
            for (k = 0; k < r->len; k++) {
                unsigned char c = p[k];
                if (c != '\r' && c != '\n' && (c < 0x20 || c > 0x7e)) c = '.';
                if (q->mode == FW_EBCDIC) c = fw_ebcdic(c);
                putc(c, f);
            }
            putc('\n', f);
            break;
        case FW_HEX:
            fw_hex(f, r->node1, pos[r->node1], p, r->len);
            pos[r->node1] += (uint32_t)r->len;
            break;
        case FW_RAW: {
            static const char hx[] = "0123456789abcdef";
            if (r->node1) putc('\t', f);
            for (k = 0; k < r->len; k++) {
                putc(hx[p[k] >> 4], f);
                putc(hx[p[k] & 15], f);
            }
            putc('\n', f);
            break;
        }
        default: /* FW_YAML */
            fprintf(f, "  - packet: %d\n    peer: %d\n    timestamp: %.9f\n    data: !!binary |\n",
                    (int)(uint32_t)r->frame, r->node1, (double)r->ts.sec + (double)r->ts.nsec / 1e9);
            for (k = 0; k < r->len; k += 57) {
                fputs("      ", f);
                fw_base64(f, p + k, r->len - k < 57 ? r->len - k : 57);
                putc('\n', f);
            }
            break;
        }
    }
    if (q->mode != FW_YAML) fputs(fw_sep, f);
}

/* EBCDIC as tshark 4.0 shows it. Its ASCII filter runs first, so only CR,
   LF and 0x20-0x7e reach the translation; CR and LF come out as they are,
   and the printable bytes as below (observed: a segment holding 0x20-0x7e
   followed in ebcdic mode). */
static unsigned char fw_ebcdic(unsigned char c) {
    static const char tab[] = " !\"#$%&'()*+,-./"
                              "..23456789:;<=.?"
                              " ...........<(+|"
                              "&.........!$*);^"
                              "-/........|,%_>?"
                              "..........:#@'=";
    return c >= 0x20 && c <= 0x7e ? (unsigned char)tab[c - 0x20] : c;
}

/* ---------------------------------------------------------- arguments */

static void follow_usage(FILE *f) {
    fprintf(f,
            "usage: tcpsession follow [-m ascii|ebcdic|hex|raw|yaml] (-s N | -e IP:PORT,IP:PORT)\n"
            "                         [--all-data] CAPTURE\n"
            "       tcpsession follow -z follow,tcp,MODE,N|IP:PORT,IP:PORT[,RANGE]... CAPTURE\n"
            "       tcpsession -r CAPTURE -q -z follow,tcp,MODE,N ...\n"
            "\n"
            "Prints one TCP session exactly as `tshark -r CAPTURE -q -z follow,tcp,MODE,N`\n"
            "does (tshark 4.0): header and footer lines, node 0 (the source of the\n"
            "session's first packet) and node 1 (its records marked by a TAB), one\n"
            "record per segment's new bytes, \"[N bytes missing in capture file]\" for a\n"
            "hole the receiver acknowledged. As tshark, data still waiting behind a hole\n"
            "when the capture ends is left out.\n"
            "\n"
            "  -m MODE     ascii (default), ebcdic, hex, raw or yaml\n"
            "  -s N        the session with tshark's tcp.stream index N\n"
            "  -e A,B      the first session between A and B (IPv6 as [addr]:port),\n"
            "              in either order\n"
            "  -z follow,tcp,MODE,N|A,B[,RANGE]\n"
            "              tshark's spelling; may be repeated: as tshark, the last given\n"
            "              prints first. RANGE is FIRST[-LAST], the records printed\n"
            "  -r CAPTURE  the capture (or give it as the last argument); -q and -n are\n"
            "              accepted and ignored\n"
            "  --all-data  also print what tshark leaves out: every gap as a marker\n"
            "              (holes at the end, cut segments) and the data after it\n"
            "\n"
            "Reading stops once every followed session has ended (so a fault in the\n"
            "capture after that point goes unnoticed). Where tshark differs: -e on a pair\n"
            "of endpoints that several connections used follows the first of them (tshark\n"
            "mixes them all into one stream).\n"
            "\n"
            "Exit status: 0; 2 for a bad command line; 3 when the capture could not be\n"
            "read or only partly (what was read before the fault is printed).\n");
}

static int fw_parse_mode(const char *s, size_t n) {
    int i;
    for (i = 0; i < 5; i++)
        if (strlen(fw_mode_names[i]) == n && !strncmp(s, fw_mode_names[i], n)) return i;
    return -1;
}

static int fw_parse_uint(const char *s, size_t n, unsigned long max, unsigned long *out) {
    unsigned long v = 0;
    size_t i;
    if (n == 0 || n > 12) return -1;
    for (i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return -1;
        v = v * 10 + (unsigned long)(s[i] - '0');
    }
    if (v > max) return -1;
    *out = v;
    return 0;
}

/* FIRST[-LAST] */
static int fw_parse_range(const char *s, size_t n, fw_req *q) {
    const char *dash = (const char *)memchr(s, '-', n);
    if (!dash) {
        if (fw_parse_uint(s, n, 0xffffffffUL, &q->cmin)) return -1;
        q->cmax = q->cmin;
        return 0;
    }
    if (fw_parse_uint(s, (size_t)(dash - s), 0xffffffffUL, &q->cmin) ||
        fw_parse_uint(dash + 1, n - (size_t)(dash + 1 - s), 0xffffffffUL, &q->cmax))
        return -1;
    return 0;
}

static void fw_tuple_filter(fw_req *q, const tcps_endpoint *a, const tcps_endpoint *b) {
    char sa[64], sb[64];
    const char *ip = a->ip_version == 6 ? "ipv6" : "ip";
    tsl_addr_text(a, sa, sizeof sa);
    tsl_addr_text(b, sb, sizeof sb);
    snprintf(q->filter, sizeof q->filter,
             "((%s.src eq %s and tcp.srcport eq %u) and (%s.dst eq %s and tcp.dstport eq %u)) or "
             "((%s.src eq %s and tcp.srcport eq %u) and (%s.dst eq %s and tcp.dstport eq %u))",
             ip, sa, a->port, ip, sb, b->port, ip, sb, b->port, ip, sa, a->port);
}

/* The target a request follows: shared with earlier requests for the same
   stream or the same pair of endpoints. */
static fw_target *fw_target_for(fw_state *st, int by_tuple, uint64_t stream, const tcps_endpoint *a,
                                const tcps_endpoint *b) {
    fw_target *t, **nv;
    size_t i;
    for (i = 0; i < st->ntg; i++) {
        t = st->tg[i];
        if (t->by_tuple != by_tuple) continue;
        if (!by_tuple && t->stream == stream) return t;
        if (by_tuple && ((tsl_endpoint_eq(&t->a, a) && tsl_endpoint_eq(&t->b, b)) ||
                         (tsl_endpoint_eq(&t->a, b) && tsl_endpoint_eq(&t->b, a))))
            return t;
    }
    t = (fw_target *)calloc(1, sizeof *t);
    nv = (fw_target **)realloc(st->tg, (st->ntg + 1) * sizeof *nv);
    if (!t || !nv) {
        free(t);
        if (nv) st->tg = nv;
        return NULL;
    }
    st->tg = nv;
    t->by_tuple = by_tuple;
    t->stream = stream;
    if (a) t->a = *a;
    if (b) t->b = *b;
    st->tg[st->ntg++] = t;
    return t;
}

static fw_req *fw_new_req(fw_state *st) {
    fw_req *nv = (fw_req *)realloc(st->req, (st->nreq + 1) * sizeof *nv);
    if (!nv) return NULL;
    st->req = nv;
    memset(&nv[st->nreq], 0, sizeof nv[st->nreq]);
    nv[st->nreq].cmin = 1;
    nv[st->nreq].cmax = 0xffffffffUL;
    return &nv[st->nreq++];
}

/* A stream index or a pair of endpoints, then an optional range. */
static int fw_add_req(fw_state *st, int mode, const char *spec, int allow_range) {
    fw_req *q;
    size_t len = strlen(spec), speclen = len;
    const char *comma;
    int tuple = strchr(spec, ':') != NULL;
    unsigned long n = 0;
    /* the range is what follows the last field of the spec */
    comma = (const char *)memchr(spec, ',', len);
    if (tuple) {
        comma = comma ? strchr(comma + 1, ',') : NULL;
    }
    if (comma) {
        if (!allow_range) return -1;
        speclen = (size_t)(comma - spec);
    }
    q = fw_new_req(st);
    if (!q) return CLI_INTERNAL;
    q->mode = mode;
    if (comma && fw_parse_range(comma + 1, len - speclen - 1, q)) return -1;
    if (tuple) {
        tcps_endpoint ab[2];
        if (tsl_endpoint_pair_parse(spec, speclen, ab)) return -1;
        fw_tuple_filter(q, &ab[0], &ab[1]);
        q->t = fw_target_for(st, 1, 0, &ab[0], &ab[1]);
    } else {
        if (fw_parse_uint(spec, speclen, 0x7fffffffUL, &n)) return -1;
        snprintf(q->filter, sizeof q->filter, "tcp.stream eq %lu", n);
        q->t = fw_target_for(st, 0, n, NULL, NULL);
    }
    return q->t ? 0 : CLI_INTERNAL;
}

/* -z follow,tcp,MODE,SPEC[,RANGE] */
static int fw_add_z(fw_state *st, const char *z) {
    const char *m, *c;
    int mode;
    if (strncmp(z, "follow,tcp,", 11) != 0) return -1;
    m = z + 11;
    c = strchr(m, ',');
    if (!c) return -1;
    mode = fw_parse_mode(m, (size_t)(c - m));
    if (mode < 0) return -1;
    return fw_add_req(st, mode, c + 1, 1);
}

static void fw_free(fw_state *st) {
    size_t i;
    for (i = 0; i < st->ntg; i++) {
        free(st->tg[i]->rec);
        free(st->tg[i]->bytes);
        free(st->tg[i]);
    }
    free(st->tg);
    free(st->req);
}

int cmd_follow(int argc, char **argv) {
    fw_state st;
    const char *capture = NULL, *mode_arg = NULL;
    const char **zs = NULL, **se = NULL; /* -z texts; -s / -e texts (prefixed "s" / "e") */
    size_t nz = 0, nse = 0, k;
    int i, rc = CLI_OK, mode = FW_ASCII;
    cli_input in;
    tsl_hooks hooks;

    memset(&st, 0, sizeof st);
    zs = (const char **)calloc((size_t)argc + 1, sizeof *zs);
    se = (const char **)calloc((size_t)argc + 1, sizeof *se);
    if (!zs || !se) {
        free(zs);
        free(se);
        cli_err("follow: out of memory");
        return CLI_INTERNAL;
    }
#define FW_NEED_ARG()                                                                                          \
    do {                                                                                                       \
        if (i + 1 >= argc) {                                                                                   \
            cli_err("follow: %s needs an argument", argv[i]);                                                 \
            rc = CLI_USAGE;                                                                                    \
            goto done;                                                                                         \
        }                                                                                                      \
    } while (0)
    for (i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            follow_usage(stdout);
            goto done;
        } else if (!strcmp(a, "-m") || !strcmp(a, "--mode")) {
            FW_NEED_ARG();
            mode_arg = argv[++i];
        } else if (!strncmp(a, "--mode=", 7)) {
            mode_arg = a + 7;
        } else if (!strcmp(a, "-s") || !strcmp(a, "-e")) {
            FW_NEED_ARG();
            se[nse++] = a;
            se[nse++] = argv[++i];
        } else if (!strcmp(a, "-z")) {
            FW_NEED_ARG();
            zs[nz++] = argv[++i];
        } else if (!strncmp(a, "-z", 2) && a[2]) {
            zs[nz++] = a + 2;
        } else if (!strcmp(a, "-r")) {
            FW_NEED_ARG();
            if (capture) {
                cli_err("follow: one capture only");
                rc = CLI_USAGE;
                goto done;
            }
            capture = argv[++i];
        } else if (!strcmp(a, "-q") || !strcmp(a, "-n")) {
            /* tshark's quiet and no-name-resolution flags: what follow does anyway */
        } else if (!strcmp(a, "--all-data")) {
            st.all_data = 1;
        } else if (a[0] == '-' && a[1]) {
            cli_err("follow: unknown option %s", a);
            follow_usage(stderr);
            rc = CLI_USAGE;
            goto done;
        } else {
            if (capture) {
                cli_err("follow: one capture only (%s and %s)", capture, a);
                rc = CLI_USAGE;
                goto done;
            }
            capture = a;
        }
    }
    if (mode_arg) {
        mode = fw_parse_mode(mode_arg, strlen(mode_arg));
        if (mode < 0) {
            cli_err("follow: unknown mode '%s' (ascii, ebcdic, hex, raw or yaml)", mode_arg);
            rc = CLI_USAGE;
            goto done;
        }
    }
    for (k = 0; k < nse; k += 2) {
        int r;
        if (se[k][1] == 's' && strchr(se[k + 1], ':')) r = -1; /* -s takes a number */
        else if (se[k][1] == 'e' && !strchr(se[k + 1], ':')) r = -1;
        else r = fw_add_req(&st, mode, se[k + 1], 0);
        if (r) {
            if (r == CLI_INTERNAL) cli_err("follow: out of memory");
            else
                cli_err("follow: bad %s argument '%s' (%s)", se[k], se[k + 1],
                        se[k][1] == 's' ? "a stream number" : "IP:PORT,IP:PORT, IPv6 as [addr]:port");
            rc = r == CLI_INTERNAL ? CLI_INTERNAL : CLI_USAGE;
            goto done;
        }
    }
    /* tshark prints its follow requests in the reverse of their order */
    for (k = nz; k-- > 0;) {
        int r = fw_add_z(&st, zs[k]);
        if (r) {
            if (r == CLI_INTERNAL) cli_err("follow: out of memory");
            else
                cli_err("follow: bad -z argument '%s' (follow,tcp,MODE,N or follow,tcp,MODE,IP:PORT,IP:PORT, "
                        "then optionally ,FIRST[-LAST]; MODE ascii, ebcdic, hex, raw or yaml)",
                        zs[k]);
            rc = r == CLI_INTERNAL ? CLI_INTERNAL : CLI_USAGE;
            goto done;
        }
    }
    if (mode_arg && nse == 0) {
        cli_err("follow: -m applies to -s and -e (with -z the mode is in its argument)");
        rc = CLI_USAGE;
        goto done;
    }
    if (st.nreq == 0) {
        cli_err("follow: which session? give -s N, -e IP:PORT,IP:PORT or -z follow,tcp,MODE,N");
        follow_usage(stderr);
        rc = CLI_USAGE;
        goto done;
    }
    if (!capture) {
        cli_err("follow: no capture given");
        rc = CLI_USAGE;
        goto done;
    }

    rc = cli_open(&in, capture, 1);
    if (rc) goto done;
    memset(&hooks, 0, sizeof hooks);
    hooks.open = on_open;
    hooks.data = on_data;
    hooks.gap = on_gap;
    hooks.close = on_close;
    hooks.user = &st;
    hooks.packet = on_packet;
    hooks.packet_user = &st;
    rc = cli_run(&in, NULL, 0, &hooks, NULL, NULL);
    cli_close(&in);
    if (rc == FW_STOP) rc = CLI_OK;
    if (st.oom) {
        cli_err("follow: out of memory");
        rc = CLI_INTERNAL;
        goto done;
    }
    for (k = 0; k < st.nreq; k++) fw_print(stdout, &st.req[k]);
    if (fflush(stdout) != 0 || ferror(stdout)) {
        cli_err("follow: cannot write the output");
        if (!rc) rc = CLI_OUTPUT;
    }
done:
#undef FW_NEED_ARG
    fw_free(&st);
    free(zs);
    free(se);
    return rc;
}
