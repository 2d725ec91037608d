#!/bin/sh
# Turn the QUICK START of tcpsession.h's doc comment into C, so the tests
# compile (and run) exactly what the documentation shows.
#   sh tests/quickstart_extract.sh tcpsession.h > quickstart.inc
#
# The snippet is the text between the line holding "QUICK START" and the
# line "LAYERS", with its indentation removed.  Its conventions:
#   - a line that is only "..." separates file-scope code (above) from the
#     statements of a function body (below); the body becomes
#     `static int quickstart_main(void)`, which returns 0 at its end;
#   - a statement ending in " ..." means "handle the error": it becomes
#     a message on stderr and `return 1;`;
#   - "(text)" after a statement and two or more spaces is a comment.
# Anything else that is not C makes the build fail here or in the compiler,
# which is the point: the documentation cannot drift from the API.
set -eu
header=${1:-tcpsession.h}

awk '
BEGIN { state = 0; nsep = 0; nbody = 0 }
state == 0 && /QUICK START/ { state = 1; next }
state == 1 && /^[ \t]*LAYERS[ \t]*$/ { state = 2; exit }
state == 1 {
    line = $0
    if (line ~ /^[ \t]*$/) { if (indent == "") next; lines[n++] = ""; next }
    if (indent == "") { match(line, /^ */); indent = RLENGTH }
    if (substr(line, 1, indent) ~ /[^ ]/) {
        printf "quickstart_extract: line less indented than the snippet: %s\n", line > "/dev/stderr"
        bad = 1; exit 1
    }
    lines[n++] = substr(line, indent + 1)
}
END {
    if (bad) exit 1
    if (state != 2 || n == 0) {
        print "quickstart_extract: no QUICK START ... LAYERS block found" > "/dev/stderr"; exit 1
    }
    print "/* Generated from the QUICK START of tcpsession.h by tests/quickstart_extract.sh. */"
    part = 1
    for (i = 0; i < n; i++) {
        l = lines[i]
        if (l == "...") {
            if (part == 2) { print "quickstart_extract: more than one \"...\" line" > "/dev/stderr"; exit 1 }
            part = 2; nsep++
            print "static int quickstart_main(void) {"
            continue
        }
        if (part == 2) {
            if (l ~ /\) \.\.\.$/) {
                sub(/ \.\.\.$/, " { fprintf(stderr, \"quick start: step failed\\n\"); return 1; }", l)
            }
            if (l ~ /;  +\(.*\)$/) {
                c = l; sub(/^[^;]*; +\(/, "", c); sub(/\)$/, "", c)
                sub(/;  +\(.*\)$/, "; /* " c " */", l)
            }
            nbody++
            if (l != "") l = "    " l
        }
        if (l ~ /\.\.\./) {
            printf "quickstart_extract: cannot turn into C: %s\n", lines[i] > "/dev/stderr"; exit 1
        }
        print l
    }
    if (nsep != 1 || nbody == 0) {
        print "quickstart_extract: expected file-scope code, a \"...\" line, then statements" > "/dev/stderr"; exit 1
    }
    print "    return 0;"
    print "}"
}
' "$header"
