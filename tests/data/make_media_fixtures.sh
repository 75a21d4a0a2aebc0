#!/usr/bin/env bash
# Makes one folder with every kind of file the hub accepts (good/) and the usual ways files go
# wrong (bad/), for tests/media_probe.rs. Usage: make_media_fixtures.sh OUTDIR
#
# Needs Debian packages: ffmpeg, lame, sox, opus-tools, python3 (ImageMagick is not needed: ffmpeg
# writes the PNG/JPEG/TIFF images, python3 hand-builds the PDF, DICOM, NRRD and NIfTI files).
# Output is deterministic where the tools allow: ffmpeg runs bit-exact and single-threaded, sox
# with a fixed random seed (-R), opusenc with a fixed serial, gzip and zip with fixed timestamps.
set -euo pipefail

OUT=${1:?usage: make_media_fixtures.sh OUTDIR}
for tool in ffmpeg ffprobe lame sox opusenc python3; do
  command -v "$tool" >/dev/null || {
    echo "make_media_fixtures.sh: $tool not found (apt-get install ffmpeg lame sox opus-tools python3)" >&2
    exit 1
  }
done

mkdir -p "$OUT/good/sub/dir" "$OUT/bad"
OUT=$(cd "$OUT" && pwd)
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

FF="ffmpeg -hide_banner -loglevel error -nostdin -y"
BX="-fflags +bitexact -flags:v +bitexact -flags:a +bitexact -map_metadata -1 -threads 1"
SRC="testsrc=size=64x48"

cd "$OUT/good"

# Images: 64x48 test card.
$FF -f lavfi -i "$SRC:rate=1" -frames:v 1 $BX photo.png
$FF -f lavfi -i "$SRC:rate=1" -frames:v 1 -q:v 3 $BX photo.jpg
$FF -f lavfi -i "$SRC:rate=1" -frames:v 1 -pix_fmt rgb24 $BX scan.tiff
$FF -f lavfi -i "$SRC:rate=1" -frames:v 1 $BX sub/dir/nested.png

# Video: 1 s at 25 fps with a sine track; the same picture in each container.
VIDEO_IN=(-f lavfi -i "$SRC:rate=25:duration=1" -f lavfi -i "sine=frequency=440:duration=1")
H264=(-c:v libx264 -preset veryfast -pix_fmt yuv420p -g 25)
$FF "${VIDEO_IN[@]}" "${H264[@]}" -c:a aac -b:a 64k $BX clip.mp4
$FF "${VIDEO_IN[@]}" "${H264[@]}" -c:a aac -b:a 64k $BX clip.mov
$FF "${VIDEO_IN[@]}" -c:v libvpx -b:v 200k -deadline realtime -c:a libvorbis -b:a 64k $BX clip.webm
$FF "${VIDEO_IN[@]}" "${H264[@]}" -c:a aac -b:a 64k $BX clip.mkv

# Variable frame rate: 1 s at 25 fps, then 1 s at 10 fps, in one track on a 1/1000 clock.
$FF -f lavfi -i "$SRC:rate=25:duration=1" -f lavfi -i "$SRC:rate=10:duration=1" \
  -filter_complex "[0:v]settb=1/1000[a];[1:v]settb=1/1000[b];[a][b]concat=n=2:v=1:a=0[v]" \
  -map "[v]" -fps_mode vfr "${H264[@]}" $BX vfr.mp4
# Check it: the (only) stts table must hold more than one frame duration, not counting the last.
python3 - <<'PY'
import struct, sys
data = open("vfr.mp4", "rb").read()
at = data.find(b"stts")
count = struct.unpack(">I", data[at + 8:at + 12])[0]
runs = [struct.unpack(">II", data[at + 12 + 8 * i:at + 20 + 8 * i]) for i in range(count)]
if runs and runs[-1][0] == 1:
    runs.pop()
if len({delta for _, delta in runs}) < 2:
    sys.exit("make_media_fixtures.sh: vfr.mp4 came out with a constant frame rate: %r" % runs)
PY

# Audio: constant bitrate only (the hub's rule).
sox -R -n -r 44100 -c 2 -b 16 "$WORK/tone.wav" synth 2 sine 440 vol 0.5
lame --quiet -b 128 "$WORK/tone.wav" tone.mp3
sox -R -n -r 44100 -c 1 -b 16 tone.wav synth 1 sine 440 vol 0.5
# Ogg: Vorbis is variable bitrate by nature, so the good Ogg is Opus in hard-CBR mode.
opusenc --quiet --serial 1 --hard-cbr --bitrate 64 "$WORK/tone.wav" tone.ogg

# Documents and text.
python3 - <<'PY'
objects = [
    b"<< /Type /Catalog /Pages 2 0 R >>",
    b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
    b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 100] /Contents 4 0 R "
    b"/Resources << /Font << /F1 5 0 R >> >> >>",
    None,
    b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
]
stream = b"BT /F1 18 Tf 20 40 Td (assetdrop test) Tj ET"
objects[3] = b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream)
out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
offsets = []
for number, body in enumerate(objects, start=1):
    offsets.append(len(out))
    out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
xref = len(out)
out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
for offset in offsets:
    out += b"%010d 00000 n \n" % offset
out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
open("doc.pdf", "wb").write(out)
PY
printf 'The quick brown fox jumps over the lazy dog.\nZürich, naïve café — UTF-8 text.\n' >notes.txt
printf '# Read me\n\nSome *Markdown* with a [link](https://example.com).\n' >readme.md
printf '<!DOCTYPE html>\n<html><head><title>Page</title></head><body><p>Hello</p></body></html>\n' >page.html

# Medical: DICOM (Part 10, explicit VR little endian, 8x8 8-bit), NRRD and NIfTI volumes.
python3 - <<'PY'
import gzip, struct

def element(group, number, vr, value):
    if len(value) % 2:
        value += b"\0" if vr in (b"UI", b"OB") else b" "
    head = struct.pack("<HH", group, number) + vr
    if vr in (b"OB", b"OW", b"SQ", b"UN", b"UT"):
        return head + b"\0\0" + struct.pack("<I", len(value)) + value
    return head + struct.pack("<H", len(value)) + value

sop_class = b"1.2.840.10008.5.1.4.1.1.7"
sop_instance = b"1.2.826.0.1.3680043.10.1234.1"
meta = b"".join([
    element(2, 0x0001, b"OB", b"\0\1"),
    element(2, 0x0002, b"UI", sop_class),
    element(2, 0x0003, b"UI", sop_instance),
    element(2, 0x0010, b"UI", b"1.2.840.10008.1.2.1"),
    element(2, 0x0012, b"UI", b"1.2.826.0.1.3680043.10.1234"),
])
pixels = bytes((x * 32 + y * 4) % 256 for y in range(8) for x in range(8))
data_set = b"".join([
    element(0x0008, 0x0016, b"UI", sop_class),
    element(0x0008, 0x0018, b"UI", sop_instance),
    element(0x0008, 0x0060, b"CS", b"OT"),
    element(0x0010, 0x0010, b"PN", b"Test^Fixture"),
    element(0x0028, 0x0002, b"US", struct.pack("<H", 1)),
    element(0x0028, 0x0004, b"CS", b"MONOCHROME2"),
    element(0x0028, 0x0010, b"US", struct.pack("<H", 8)),
    element(0x0028, 0x0011, b"US", struct.pack("<H", 8)),
    element(0x0028, 0x0100, b"US", struct.pack("<H", 8)),
    element(0x0028, 0x0101, b"US", struct.pack("<H", 8)),
    element(0x0028, 0x0102, b"US", struct.pack("<H", 7)),
    element(0x0028, 0x0103, b"US", struct.pack("<H", 0)),
    element(0x7FE0, 0x0010, b"OW", pixels),
])
with open("scan.dcm", "wb") as f:
    f.write(b"\0" * 128 + b"DICM")
    f.write(element(2, 0x0000, b"UL", struct.pack("<I", len(meta))))
    f.write(meta + data_set)

sizes = (8, 6, 4)
voxels = b"".join(struct.pack("<h", (x + y + z) * 10) for z in range(4) for y in range(6) for x in range(8))

def nrrd(dimension_lines, data):
    header = "NRRD0004\n# assetdrop test volume\ntype: short\n" + dimension_lines + (
        "endian: little\nencoding: raw\n\n"
    )
    return header.encode() + data

three_d = (
    "dimension: 3\nspace: left-posterior-superior\nsizes: 8 6 4\n"
    "space directions: (1,0,0) (0,1,0) (0,0,2.5)\nkinds: domain domain domain\nspace origin: (0,0,0)\n"
)
open("volume.nrrd", "wb").write(nrrd(three_d, voxels))
four_d = (
    "dimension: 4\nspace: left-posterior-superior\nsizes: 8 6 2 2\n"
    "space directions: (1,0,0) (0,1,0) (0,0,2.5) none\nkinds: domain domain domain list\nspace origin: (0,0,0)\n"
)
open("../bad/volume4d.nrrd", "wb").write(nrrd(four_d, voxels))

header = bytearray(352)
struct.pack_into("<i", header, 0, 348)
struct.pack_into("<8h", header, 40, 3, *sizes, 1, 1, 1, 1)
struct.pack_into("<hh", header, 70, 4, 16)  # datatype int16, 16 bits per voxel
struct.pack_into("<8f", header, 76, 1.0, 1.0, 1.0, 2.5, 1.0, 1.0, 1.0, 1.0)
struct.pack_into("<f", header, 108, 352.0)  # vox_offset
struct.pack_into("<f", header, 112, 1.0)  # scl_slope
struct.pack_into("<h", header, 254, 1)  # sform_code: scanner
struct.pack_into("<4f", header, 280, 1.0, 0.0, 0.0, 0.0)
struct.pack_into("<4f", header, 296, 0.0, 1.0, 0.0, 0.0)
struct.pack_into("<4f", header, 312, 0.0, 0.0, 2.5, 0.0)
header[344:348] = b"n+1\0"
nifti = bytes(header) + voxels
open("volume.nii", "wb").write(nifti)
open("volume.nii.gz", "wb").write(gzip.compress(nifti, mtime=0))
PY

# The bad ones.
cd "$OUT/bad"
# Variable bitrate: a tone, then noise, then silence, so lame -V 2 has to vary the frames.
sox -R -n -r 44100 -c 2 -b 16 "$WORK/a.wav" synth 1 sine 440 vol 0.5
sox -R -n -r 44100 -c 2 -b 16 "$WORK/b.wav" synth 1 whitenoise vol 0.5
sox -R -n -r 44100 -c 2 -b 16 "$WORK/c.wav" synth 1 sine 0 vol 0
sox -R "$WORK/a.wav" "$WORK/b.wav" "$WORK/c.wav" "$WORK/mixed.wav"
lame --quiet -V 2 "$WORK/mixed.wav" vbr.mp3
cp ../good/photo.png png_named.mp3
: >empty.txt
size=$(stat -c %s ../good/photo.png)
head -c $((size / 2)) ../good/photo.png >truncated.png
size=$(stat -c %s ../good/clip.mp4)
head -c $((size / 2)) ../good/clip.mp4 >truncated.mp4
printf 'caf\xe9 cr\xe8me, not UTF-8 but Latin-1\n' >not_utf8.txt
python3 - <<'PY'
import zipfile
with zipfile.ZipFile("archive.zip", "w", zipfile.ZIP_DEFLATED) as z:
    info = zipfile.ZipInfo("notes.txt", date_time=(2020, 1, 1, 0, 0, 0))
    z.writestr(info, "a file inside an archive\n")
PY
