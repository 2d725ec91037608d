#define TCPSESSION_IMPLEMENTATION
#define _POSIX_C_SOURCE 200809L
#include "tcpsession.h"

/* Every capture of the shared corpus ($TCPS_CORPUS) is read to its end and
   compared with tshark's answers in reference-files.tsv: the packet count,
   and whether reading ended in an error. Skips (and says so) when the corpus
   is absent. */

#include <criterion/criterion.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* Files whose tshark row cannot be the reference for the reader, each with
   the reason and what we expect instead. */
typedef struct corpus_exception {
    const char *file;
    int rc;            /* expected tcps_reader_next result at the end */
    long packets;      /* expected packet count before it */
    const char *why;
} corpus_exception;

static const corpus_exception exceptions[] = {
    /* tshark refuses these link types (285 EDSA; 0x30000084: JUNIPER_ES
       with reserved FCS bits, P bit clear), which is a decoding matter: the
       files are well formed, and tcpdump reads 10 and 1 packets from them. */
    {"tcpdump/edsa.pcap", TCPS_DONE, 10, "link type unknown to tshark"},
    {"tcpdump/juniper_es_oobr.pcap", TCPS_DONE, 1, "link type unknown to tshark"},
    /* tshark gave no count (it rejected the file outright, having tried its
       "modified pcap" guesses); libpcap (tcpdump -r) reads 6, 1 and 18
       packets and then fails on a record claiming 4325376, 1409179648 and
       3925868813 bytes. The first is cut short, the others are above our
       64 MiB limit. */
    {"suricata-verify/bug-1450-04__tls_DER-incomplete-header.pcap", TCPS_E_TRUNCATED, 6, "no tshark count"},
    {"suricata-verify/bug-6875-01__fuzz.pcap", TCPS_E_TOO_LARGE, 1, "no tshark count"},
    {"suricata-verify/smtp-to-comma__10.7.29.101_49898-178.63.41.150_25.pcap", TCPS_E_TOO_LARGE, 18,
     "no tshark count"},
};

typedef struct ref_row {
    char file[512];
    long packets; /* -1: "?" */
    int tshark_rc;
    int seen;
} ref_row;

static ref_row *rows;
static size_t nrows;

static int load_reference(const char *dir) {
    char path[1024], line[8192];
    FILE *f;
    size_t cap = 0;
    snprintf(path, sizeof path, "%s/reference-files.tsv", dir);
    f = fopen(path, "r");
    if (!f) return -1;
    while (fgets(line, sizeof line, f)) {
        char *col[9];
        int n = 0;
        char *p = line, *tab;
        if (strncmp(line, "file\t", 5) == 0) continue;
        while (n < 9) {
            col[n++] = p;
            tab = strchr(p, '\t');
            if (!tab) break;
            *tab = 0;
            p = tab + 1;
        }
        if (n < 8) continue;
        if (nrows == cap) {
            cap = cap ? cap * 2 : 512;
            rows = (ref_row *)realloc(rows, cap * sizeof *rows);
            cr_assert_not_null(rows);
        }
        snprintf(rows[nrows].file, sizeof rows[nrows].file, "%s", col[0]);
        rows[nrows].packets = strcmp(col[5], "?") == 0 ? -1 : atol(col[5]);
        rows[nrows].tshark_rc = atoi(col[7]);
        rows[nrows].seen = 0;
        nrows++;
    }
    fclose(f);
    return 0;
}

static ref_row *find_row(const char *rel) {
    size_t i;
    for (i = 0; i < nrows; i++)
        if (strcmp(rows[i].file, rel) == 0) return &rows[i];
    return NULL;
}

static const corpus_exception *find_exception(const char *rel) {
    size_t i;
    for (i = 0; i < sizeof exceptions / sizeof exceptions[0]; i++)
        if (strcmp(exceptions[i].file, rel) == 0) return &exceptions[i];
    return NULL;
}

static unsigned long n_files, n_errors, n_failed;
static unsigned long long n_packets;

static void check_file(const char *root, const char *rel) {
    char path[2048];
    tcps_reader *r;
    tcps_packet pkt;
    long count = 0;
    int rc;
    ref_row *row = find_row(rel);
    const corpus_exception *ex = find_exception(rel);
    uint64_t last_offset = 0;
    snprintf(path, sizeof path, "%s/%s", root, rel);
    cr_expect_not_null(row, "%s: not listed in reference-files.tsv", rel);
    if (!row) {
        n_failed++;
        return;
    }
    row->seen = 1;
    rc = tcps_reader_open_path(&r, path, NULL);
    cr_assert_eq(rc, TCPS_OK, "%s: open: %s", rel, tcps_result_name(rc));
    while ((rc = tcps_reader_next(r, &pkt)) == TCPS_OK) {
        count++;
        /* frames count from 1, offsets increase */
        if (pkt.frame != (uint64_t)count || (count > 1 && pkt.offset <= last_offset)) {
            cr_expect_fail("%s: frame %llu offset %llu out of order", rel, (unsigned long long)pkt.frame,
                           (unsigned long long)pkt.offset);
            n_failed++;
            break;
        }
        last_offset = pkt.offset;
    }
    n_files++;
    n_packets += (unsigned long long)count;
    if (rc < 0) n_errors++;
    if (ex) {
        if (rc != ex->rc || count != ex->packets) {
            n_failed++;
            cr_expect_fail("%s (%s): got %s after %ld packets, expected %s after %ld", rel, ex->why,
                           tcps_result_name(rc), count, tcps_result_name(ex->rc), ex->packets);
        }
    } else if (row->tshark_rc == 0) {
        if (rc != TCPS_DONE || count != row->packets) {
            n_failed++;
            cr_expect_fail("%s: got %s (%s at %llu) after %ld packets; tshark read %ld without error", rel,
                           tcps_result_name(rc), tcps_reader_error(r)->message,
                           (unsigned long long)tcps_reader_error(r)->offset, count, row->packets);
        }
    } else {
        if (rc >= 0 || (row->packets >= 0 && count != row->packets)) {
            n_failed++;
            cr_expect_fail("%s: got %s after %ld packets; tshark failed after %ld", rel, tcps_result_name(rc),
                           count, row->packets);
        }
    }
    if (rc < 0) {
        const tcps_error *e = tcps_reader_error(r);
        cr_expect_eq(e->code, rc, "%s: error kept on the reader", rel);
        cr_expect(e->message && e->message[0], "%s: error message", rel);
    }
    tcps_reader_close(r);
    /* the mapped (zero-copy) source gives the same answer as reading */
    {
        tcps_reader_config cfg;
        long count2 = 0;
        int rc2;
        memset(&cfg, 0, sizeof cfg);
        cfg.flags = TCPS_READER_MMAP;
        cr_assert_eq(tcps_reader_open_path(&r, path, &cfg), TCPS_OK);
        while ((rc2 = tcps_reader_next(r, &pkt)) == TCPS_OK) count2++;
        if (rc2 != rc || count2 != count) {
            n_failed++;
            cr_expect_fail("%s: mapped: %s after %ld packets, read: %s after %ld", rel, tcps_result_name(rc2),
                           count2, tcps_result_name(rc), count);
        }
        tcps_reader_close(r);
    }
}

static void walk(const char *root, const char *rel) {
    char path[2048], sub[1024];
    DIR *d;
    struct dirent *de;
    snprintf(path, sizeof path, "%s%s%s", root, rel[0] ? "/" : "", rel);
    d = opendir(path);
    cr_assert_not_null(d, "cannot open %s", path);
    while ((de = readdir(d)) != NULL) {
        struct stat st;
        char full[3072];
        if (de->d_name[0] == '.') continue;
        snprintf(sub, sizeof sub, "%s%s%s", rel, rel[0] ? "/" : "", de->d_name);
        snprintf(full, sizeof full, "%s/%s", root, sub);
        if (stat(full, &st) != 0) continue;
        if (S_ISDIR(st.st_mode)) walk(root, sub);
        else if (S_ISREG(st.st_mode) && rel[0]) check_file(root, sub); /* top level: the references */
    }
    closedir(d);
}

Test(reader_corpus, every_file_matches_tshark) {
    const char *dir = getenv("TCPS_CORPUS");
    struct stat st;
    size_t i;
    if (!dir || !dir[0] || stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        fprintf(stderr, "reader_corpus: SKIPPED: no capture corpus (TCPS_CORPUS=%s)\n", dir ? dir : "(unset)");
        return;
    }
    if (load_reference(dir) != 0) {
        fprintf(stderr, "reader_corpus: SKIPPED: %s has no reference-files.tsv\n", dir);
        return;
    }
    walk(dir, "");
    for (i = 0; i < nrows; i++) cr_expect(rows[i].seen, "%s: listed but not found", rows[i].file);
    cr_expect_gt(n_files, 0);
    fprintf(stderr, "reader_corpus: %lu files, %llu packets, %lu ended in an error as expected, %lu mismatches\n",
            n_files, n_packets, n_errors, n_failed);
    free(rows);
}
