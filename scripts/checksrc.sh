#!/usr/bin/env bash
# checksrc: the source rules of STYLE.md that a machine can check (curl's checksrc is the model).
#   scripts/checksrc.sh            every src/**/*.c and *.h
#   scripts/checksrc.sh FILE...    only these files
# Prints "file:line: rule: text" for each violation and exits 1 if any is not in scripts/checksrc.allow.
# Rules:
#   banned    a call of strcpy strcat sprintf vsprintf strtok atoi atol atof gets strncpy (`name(` in code,
#             not in comments, strings or character constants)
#   mhd       a libmicrohttpd name (#include <microhttpd.h>, an MHD_ identifier in code) outside src/http/
#   funclen   a function longer than 80 lines, from its opening `{` at column 0 to its closing `}` at
#             column 0, both counted (the tree's style puts both at column 0)
#   filelen   a file longer than 1200 lines
#   trailing  trailing whitespace (space, tab or CR at the end of a line)
#   tab       a tab character anywhere in a line
# The allow file lists violations that exist today and are being fixed: "rule path key" per line, where key
# is the enclosing function's name, `-` for code outside any function (and for filelen), or a line number.
# An entry that no longer matches anything in the files checked is reported as a warning (remove it); it never
# fails the run.
# Plain POSIX awk (Debian's mawk): no dependency beyond what a minimal Debian has.
set -euo pipefail
cd "$(dirname "$0")/.."
allow=scripts/checksrc.allow
if [ $# -gt 0 ]; then files=("$@")
else mapfile -t files < <(find src -type f \( -name '*.c' -o -name '*.h' \) | LC_ALL=C sort); fi
[ "${#files[@]}" -gt 0 ] || { echo "checksrc: no files" >&2; exit 1; }
[ -f "$allow" ] || allow=/dev/null

LC_ALL=C awk -v allowfile="$allow" -v maxfunc=80 -v maxfile=1200 '
BEGIN {
  nallow = 0
  while ((getline l < allowfile) > 0) {
    sub(/#.*/, "", l)
    if (split(l, f, " ") == 0) continue
    if (split(l, f, " ") != 3) { printf "checksrc: %s: bad entry (want: rule path key): %s\n", allowfile, l; bad = 1; continue }
    nallow++; arule[nallow] = f[1]; apath[nallow] = f[2]; akey[nallow] = f[3]; aused[nallow] = 0
  }
  banned = "(strcpy|strcat|sprintf|vsprintf|strtok|atoi|atol|atof|gets|strncpy)"
  nviol = 0; nallowed = 0
}

# One violation at line of path; key is its function (or "-"). Allowed when an entry names its rule, path and
# its function or line.
function report(path, rule, line, key, text,    i, ok) {
  ok = 0
  for (i = 1; i <= nallow; i++)
    if (arule[i] == rule && apath[i] == path && (akey[i] == key || akey[i] == line "")) { aused[i] = 1; ok = 1 }
  if (ok) { nallowed++; return }
  printf "%s:%d: %s: %s\n", path, line, rule, text
  nviol++
}

# The line with comments and the contents of string and character literals blanked; incomment carries a
# /* comment over lines.
function strip(s,    out, i, n, c, d, q) {
  out = ""; n = length(s); i = 1
  while (i <= n) {
    c = substr(s, i, 1); d = substr(s, i, 2)
    if (incomment) {
      if (d == "*/") { incomment = 0; out = out "  "; i += 2 } else { out = out " "; i++ }
    } else if (d == "/*") { incomment = 1; out = out "  "; i += 2
    } else if (d == "//") { break
    } else if (c == "\"" || c == "\047") {
      q = c; out = out c; i++
      while (i <= n) {
        c = substr(s, i, 1)
        if (c == "\\") { out = out "  "; i += 2; continue }
        if (c == q) break
        out = out " "; i++
      }
      if (i <= n) { out = out q; i++ }
    } else { out = out c; i++ }
  }
  return out
}

# The function a header such as "static int foo(int a)" defines, or "" when it is no function (an
# initialiser, a struct).
function funcname(h,    p, pre) {
  p = index(h, "(")
  if (p == 0) return ""
  pre = substr(h, 1, p - 1)
  if (pre ~ /=/) return ""
  sub(/[ \t]+$/, "", pre)
  if (!match(pre, /[A-Za-z_][A-Za-z0-9_]*$/)) return ""
  return substr(pre, RSTART, RLENGTH)
}

function endfile() {
  if (path != "" && lines > maxfile)
    report(path, "filelen", lines, "-", lines " lines (max " maxfile "): split it into modules")
}

FNR == 1 {
  endfile()
  path = FILENAME; scanned[path] = 1; nfiles++; lines = 0; incomment = 0; func = "-"; infunc = 0; hdr = ""
  inhttp = (path ~ /^(\.\/)?src\/http\//)
}
{
  lines = FNR
  raw = $0
  code = strip(raw)
  if (raw ~ /[ \t\r]$/) report(path, "trailing", FNR, func, "trailing whitespace")
  if (index(raw, "\t")) report(path, "tab", FNR, func, "tab character (indent with spaces)")

  if (!infunc && code ~ /^\{/) {
    name = funcname(hdr)
    infunc = 1; fstart = FNR; isfunc = (name != ""); func = (isfunc ? name : "-")
  }
  t = " " code
  while (match(t, "[^A-Za-z0-9_.>]" banned "[ \t]*\\(")) {
    call = substr(t, RSTART + 1, RLENGTH - 1); sub(/[ \t]*\($/, "", call)
    report(path, "banned", FNR, func, call "() is banned (snprintf and checked parsers instead)")
    t = substr(t, RSTART + RLENGTH)
  }
  if (!inhttp) {
    t = " " code
    if (raw ~ /^[ \t]*#[ \t]*include[ \t]*[<"]microhttpd\.h[>"]/)
      report(path, "mhd", FNR, func, "microhttpd.h outside src/http/ (only the transport names libmicrohttpd)")
    else if (match(t, /[^A-Za-z0-9_]MHD_[A-Za-z0-9_]*/))
      report(path, "mhd", FNR, func, substr(t, RSTART + 1, RLENGTH - 1) " outside src/http/ (only the transport names libmicrohttpd)")
  }
  if (infunc && code ~ /^\}/) {
    n = FNR - fstart + 1
    if (isfunc && n > maxfunc) report(path, "funclen", fstart, func, "function " func "() is " n " lines (max " maxfunc ")")
    infunc = 0; func = "-"; hdr = ""
    next
  }
  # The header of the next definition: the code lines since the last declaration, block or directive.
  if (!infunc) {
    if (code ~ /^[ \t]*$/ || code ~ /^[ \t]*#/ || code ~ /[;}][ \t]*$/) hdr = ""
    else hdr = hdr " " code
  }
}
END {
  endfile()
  for (i = 1; i <= nallow; i++)
    if (!aused[i] && (apath[i] in scanned))
      printf "checksrc: warning: %s: \"%s %s %s\" matches nothing now: remove it\n", allowfile, arule[i], apath[i], akey[i]
  printf "checksrc: %d files, %d violations, %d allowed\n", nfiles, nviol, nallowed
  exit (nviol > 0 || bad) ? 1 : 0
}
' "${files[@]}"
