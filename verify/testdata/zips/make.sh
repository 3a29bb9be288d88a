#!/bin/sh
# Regenerates the zips here, module example.com/m@v1.0.0 (go.mod, m.go)
# written by other tools, for TestCheckZipLayoutWriters. Needs Info-ZIP's
# zip and zipnote (Debian: apt-get install zip) and python3. The tests only
# read the committed zips.
set -e
out=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"
d=example.com/m@v1.0.0
mkdir -p $d
printf 'module example.com/m\n\ngo 1.21\n' >$d/go.mod
printf 'package m\n\n// X is one.\nconst X = 1\n\nfunc F() string { return "hello hello hello hello hello hello" }\n' >$d/m.go
touch -d '2024-01-02 03:04:05' $d/go.mod $d/m.go
files="$d/go.mod $d/m.go"

# Info-ZIP to a file: sizes and CRC in the local headers.
zip -q "$out/infozip-file.zip" $files
zip -q -fz "$out/infozip-file-fz.zip" $files # zip64 extra fields
# Info-ZIP to a pipe (the same as zip -fd): data descriptors, local CRC
# and compressed size 0 but the real size.
zip -q - $files | cat >"$out/infozip-streamed.zip"
# (Not zip -fz to a pipe: Zip 3.0 then marks the end record zip64 but
# writes no zip64 end record, and neither unzip nor archive/zip reads it.)
# Info-ZIP from stdin to a pipe: an entry named "-" with local sizes
# 0xffffffff and a zip64 field; zipnote then renames it and rewrites the
# zip without a descriptor but still with the zip64 field.
cat $d/m.go | zip -q - - | cat >"$out/infozip-stdin.zip"
cp "$out/infozip-stdin.zip" "$out/infozip-stdin-zipnote.zip"
printf '@ -\n@=%s\n' $d/m.go | zipnote -w "$out/infozip-stdin-zipnote.zip"

# Python's zipfile: to a stream without seek it writes data descriptors;
# with force_zip64 the local sizes are 0xffffffff with a zip64 field and
# the descriptor sizes are 8 bytes though the central directory's are small.
python3 - "$out" <<'PY'
import sys, zipfile
out = sys.argv[1]
class Unseekable:
    def __init__(self, f): self.f = f
    def write(self, b): return self.f.write(b)
    def flush(self): self.f.flush()
def build(name, seekable, force):
    with open(out + '/' + name, 'wb') as raw:
        with zipfile.ZipFile(raw if seekable else Unseekable(raw), 'w') as z:
            for f in ['go.mod', 'm.go']:
                zi = zipfile.ZipInfo('example.com/m@v1.0.0/' + f, (2024, 1, 2, 3, 4, 6))
                zi.compress_type = zipfile.ZIP_DEFLATED
                with z.open(zi, 'w', force_zip64=force) as w:
                    w.write(open('example.com/m@v1.0.0/' + f, 'rb').read())
build('python-unseekable.zip', False, False)
build('python-unseekable-zip64.zip', False, True)
build('python-seekable-zip64.zip', True, True)
PY
