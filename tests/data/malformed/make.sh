#!/usr/bin/env bash
# Makes the binary inputs of the malformed-input corpus (tests/malformed.rs), the ones too
# awkward to commit: cut-short media, lying headers, bytes that are not UTF-8, a deep template.
# The usual bad media (truncated PNG/MP4, a PNG named .mp3, VBR and free-format MP3, a 4-D NRRD,
# a zip, Latin-1 text) come from make_media_fixtures.sh and make_audio_fixtures.sh instead.
# Usage: make.sh OUTDIR. Needs ffmpeg and python3. Deterministic: two runs give the same bytes.
set -euo pipefail

OUT=${1:?usage: make.sh OUTDIR}
for tool in ffmpeg python3; do
  command -v "$tool" >/dev/null || {
    echo "make.sh: $tool not found (apt-get install ffmpeg python3)" >&2
    exit 1
  }
done
mkdir -p "$OUT/files" "$OUT/tables" "$OUT/templates" "$OUT/cloud"
OUT=$(cd "$OUT" && pwd)
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

FF="ffmpeg -hide_banner -loglevel error -nostdin -y"
BX="-fflags +bitexact -flags:v +bitexact -flags:a +bitexact -map_metadata -1 -threads 1"

# A JPEG cut in half, and a whole JPEG named .png.
$FF -f lavfi -i "testsrc=size=64x48:rate=1" -frames:v 1 -q:v 3 $BX "$WORK/photo.jpg"
size=$(stat -c %s "$WORK/photo.jpg")
head -c $((size / 2)) "$WORK/photo.jpg" >"$OUT/files/truncated.jpg"
cp "$WORK/photo.jpg" "$OUT/files/jpeg_named.png"

# An MP4 with sound and no picture.
$FF -f lavfi -i "sine=frequency=440:duration=1" -c:a aac -b:a 64k $BX "$OUT/files/audio_only.mp4"

cd "$OUT"
python3 - <<'PY'
import struct

# DICOM written as a bare data set: no 128-byte preamble, no DICM marker.
def element(group, number, vr, value):
    if len(value) % 2:
        value += b"\0" if vr == b"UI" else b" "
    return struct.pack("<HH", group, number) + vr + struct.pack("<H", len(value)) + value
bare = b"".join([
    element(0x0008, 0x0016, b"UI", b"1.2.840.10008.5.1.4.1.1.7"),
    element(0x0008, 0x0060, b"CS", b"OT"),
    element(0x0010, 0x0010, b"PN", b"Test^Fixture"),
    element(0x0028, 0x0010, b"US", struct.pack("<H", 8)),
])
open("files/no_preamble.dcm", "wb").write(bare)

# NIfTI-1 headers: dim[0] = 9 (1 to 7 allowed), and a datatype NIfTI does not define.
def nifti(dim0, datatype):
    h = bytearray(352)
    struct.pack_into("<i", h, 0, 348)
    struct.pack_into("<8h", h, 40, dim0, 8, 6, 4, 1, 1, 1, 1)
    struct.pack_into("<hh", h, 70, datatype, 16)
    struct.pack_into("<8f", h, 76, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0)
    struct.pack_into("<f", h, 108, 352.0)
    h[344:348] = b"n+1\0"
    return bytes(h) + b"\0" * (8 * 6 * 4 * 2)
open("files/nifti_bad_dim.nii", "wb").write(nifti(9, 4))
open("files/nifti_bad_datatype.nii", "wb").write(nifti(3, 999))

# A 3-D NRRD whose header promises 8x6x4 shorts and whose data holds 10 bytes.
open("files/short_data.nrrd", "wb").write(
    b"NRRD0004\ntype: short\ndimension: 3\nspace: left-posterior-superior\nsizes: 8 6 4\n"
    b"space directions: (1,0,0) (0,1,0) (0,0,1)\nspace origin: (0,0,0)\nendian: little\nencoding: raw\n\n"
    + b"\0" * 10)

# WAV headers that lie: the data chunk claims 1 MB, the file holds 800 bytes of samples.
fmt = struct.pack("<HHIIHH", 1, 1, 8000, 16000, 2, 16)
samples = b"\0\1" * 400
riff = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"data" + struct.pack("<I", 1_000_000) + samples
open("files/lying_sizes.wav", "wb").write(b"RIFF" + struct.pack("<I", 4 + len(riff) + 1_000_000) + riff)
# A WAV that ends inside its fmt chunk.
open("files/cut_in_fmt.wav", "wb").write(b"RIFF" + struct.pack("<I", 36) + b"WAVEfmt " + struct.pack("<I", 16) + b"\1\0")

# Text files that are not UTF-8 text.
open("files/utf16.txt", "wb").write("hello, world\n".encode("utf-16"))
open("files/binary_named.md", "wb").write(b"# Title\n\x00\x01\x02\x03 binary\n")

# A PDF cut before its %%EOF.
open("files/no_eof.pdf", "wb").write(b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog >>\nendobj\n" + b"x" * 2000)

# A CSV with a Latin-1 byte in row 3, between good rows.
open("tables/latin1_cell.csv", "wb").write(b"id,text\na,hello\nb,caf\xe9\nc,bye\n")

# A template nested far deeper than any real one.
open("templates/too_deep.html", "w").write("<div>" * 600 + "{{text}}" + "</div>" * 600)

# Cloud JSON with a Latin-1 byte in entry 1's externalId.
open("cloud/not_utf8.json", "wb").write(
    b'[\n  {"data": "https://example.com/a.png", "externalId": "a"},\n'
    b'  {"data": "https://example.com/b.png", "externalId": "caf\xe9"}\n]\n')
# A list saved as UTF-16 (Windows "Unicode", with its byte-order mark) whose entry 1 holds half
# of a surrogate pair: UTF-16 is read, but this is not text.
open("cloud/utf16_unpaired.json", "wb").write(b"\xff\xfe" + (
    '[\n  {"data": "https://example.com/a.png", "externalId": "a"},\n'
    '  {"data": "https://example.com/b.png", "externalId": "b\ud83d"}\n]\n'
).encode("utf-16-le", "surrogatepass"))
# The same in a table saved as Excel's "Unicode Text" (UTF-16 TSV), in row 3.
open("tables/utf16_unpaired.tsv", "wb").write(
    b"\xff\xfe" + "id\ttext\na\thello\nb\t\ud83d\n".encode("utf-16-le", "surrogatepass"))
PY
