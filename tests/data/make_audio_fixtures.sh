#!/usr/bin/env bash
# Audio fixtures for tests/audio_verdicts.rs: the deterministic recipe of
# shared/reference/audio-cbr.md §6.1, plus the edge-case MP3s of §4.2 made by byte surgery.
# Needs Debian packages: lame ffmpeg sox opus-tools vorbis-tools flac, and python3.
# Usage: make_audio_fixtures.sh OUTDIR [SECONDS_PER_SEGMENT]
#   4 segments (silence, tone, pink noise, sweep); default 0.5 s => 2-second files.
# Idempotent: every output is overwritten, and two runs give byte-identical files.
set -euo pipefail
OUT=${1:?usage: make_audio_fixtures.sh OUTDIR [SECONDS_PER_SEGMENT]}
SEG=${2:-0.5}
for tool in lame ffmpeg sox opusenc oggenc flac python3; do
  command -v "$tool" >/dev/null || { echo "make_audio_fixtures.sh: $tool not found (apt-get install lame ffmpeg sox opus-tools vorbis-tools flac python3)" >&2; exit 1; }
done
mkdir -p "$OUT"
cd "$OUT"
FF="ffmpeg -nostdin -hide_banner -loglevel error -y"
BX="-fflags +bitexact -flags:a +bitexact"

# Silence, tone, pink noise, sweep: content changes make VBR encoders change bitrate.
sox -R -n -r 44100 -c 2 -b 16 s1.wav trim 0 "$SEG"
sox -R -n -r 44100 -c 2 -b 16 s2.wav synth "$SEG" sine 440 gain -6
sox -R -n -r 44100 -c 2 -b 16 s3.wav synth "$SEG" pinknoise gain -6
sox -R -n -r 44100 -c 2 -b 16 s4.wav synth "$SEG" sine 100-8000 gain -6
sox -R s1.wav s2.wav s3.wav s4.wav src.wav
rm -f s1.wav s2.wav s3.wav s4.wav

# MP3 via lame
lame --quiet -b 128     src.wav mp3_lame_cbr128_info.mp3
lame --quiet -b 128 -t  src.wav mp3_lame_cbr128_notag.mp3
lame --quiet -V 2       src.wav mp3_lame_vbr_v2_xing.mp3
lame --quiet -V 2 -t    src.wav mp3_lame_vbr_v2_notag.mp3
lame --quiet --abr 128  src.wav mp3_lame_abr128_xing.mp3
lame --quiet -b 64 -m m --resample 22.05 src.wav mp3_lame_mpeg2_cbr64_info.mp3
lame --quiet --freeformat -b 480 src.wav mp3_lame_freeformat480.mp3
lame --quiet -b 128 -t src.wav part128.mp3
lame --quiet -b 192 -t src.wav part192.mp3
cat part128.mp3 part192.mp3 > mp3_mixed_128_192_notag.mp3

# MP3 via ffmpeg (Info when all frames match, else Xing; LAME method nibble 0)
$FF -i src.wav -c:a libmp3lame -b:a 128k        $BX ff_mp3_cbr128.mp3
$FF -i src.wav -c:a libmp3lame -q:a 2           $BX ff_mp3_vbr_q2.mp3
$FF -i src.wav -c:a libmp3lame -abr 1 -b:a 128k $BX ff_mp3_abr128.mp3

# WAV (fmt tag 1, 3, 2, 0x11, 0x55) and AIFF
$FF -i src.wav -c:a pcm_s16le     $BX wav_pcm_s16.wav
$FF -i src.wav -c:a pcm_f32le     $BX wav_pcm_f32.wav
$FF -i src.wav -c:a adpcm_ms      $BX wav_adpcm_ms.wav
$FF -i src.wav -c:a adpcm_ima_wav $BX wav_adpcm_ima.wav
$FF -i src.wav -c:a libmp3lame -b:a 128k $BX -f wav wav_mp3_cbr128.wav
$FF -i src.wav -c:a libmp3lame -q:a 2    $BX -f wav wav_mp3_vbr_q2.wav
$FF -i src.wav -c:a pcm_s16be     $BX aiff_pcm_s16.aiff

# FLAC, Vorbis, Opus
flac --silent -f -5 -o flac_l5.flac src.wav
oggenc --quiet -s 1 -q 5 -o ogg_vorbis_q5.ogg src.wav
oggenc --quiet -s 1 --managed -b 128 -m 128 -M 128 -o ogg_vorbis_managed128.ogg src.wav
$FF -i src.wav -c:a libvorbis -b:a 128k $BX ogg_vorbis_ff_abr128.ogg
opusenc --quiet --serial 1 --vbr      --bitrate 64 src.wav opus_vbr64.opus
opusenc --quiet --serial 1 --cvbr     --bitrate 64 src.wav opus_cvbr64.opus
opusenc --quiet --serial 1 --hard-cbr --bitrate 64 src.wav opus_hardcbr64.opus
$FF -i src.wav -c:a libopus -b:a 64k -vbr off $BX opus_ff_cbr64.opus

# AAC / MP4 (the .m4a muxer refuses MP3, so MP3-in-MP4 uses .mp4)
$FF -i src.wav -c:a aac -b:a 128k $BX m4a_aac_b128.m4a
$FF -i src.wav -c:a aac -q:a 2    $BX m4a_aac_q2.m4a
$FF -i src.wav -c:a aac -b:a 128k $BX aac_adts_b128.aac
$FF -i src.wav -c:a libmp3lame -b:a 128k $BX mp4_mp3_cbr128.mp4

# WebM / Matroska
$FF -i src.wav -c:a libopus -b:a 64k          $BX webm_opus_vbr64.webm
$FF -i src.wav -c:a libopus -b:a 64k -vbr off $BX webm_opus_cbr64.webm
$FF -i src.wav -c:a libvorbis -q:a 5          $BX webm_vorbis_q5.webm
$FF -i src.wav -c:a aac -b:a 128k             $BX mka_aac_b128.mka
$FF -i src.wav -c:a libmp3lame -b:a 128k      $BX mka_mp3_cbr128.mka
$FF -i src.wav -c:a libmp3lame -q:a 2         $BX mka_mp3_vbr_q2.mka
$FF -i src.wav -c:a pcm_s16le                 $BX mka_pcm_s16.mka

# Edge-case MP3s by byte surgery (reference §6.1 and §4.2).
python3 - <<'PY'
import struct

def frames(data):
    """Offsets and lengths of the MPEG-1 Layer III frames of a tagless 44.1 kHz stream."""
    rates = [0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320]
    out, pos = [], 0
    while pos + 4 <= len(data):
        b = data[pos:pos + 4]
        if b[0] != 0xFF or (b[1] & 0xFE) != 0xFA:
            raise SystemExit(f"no MPEG-1 Layer III frame at {pos}")
        length = 144 * rates[b[2] >> 4] * 1000 // 44100 + ((b[2] >> 1) & 1)
        out.append((pos, length))
        pos += length
    return out

def write(name, data):
    with open(name, "wb") as f:
        f.write(data)

cbr = open("mp3_lame_cbr128_notag.mp3", "rb").read()
info = open("mp3_lame_cbr128_info.mp3", "rb").read()
vbr = open("mp3_lame_vbr_v2_notag.mp3", "rb").read()
part192 = open("part192.mp3", "rb").read()

# VBRI: a 417-byte 128 kb/s frame with zeroed side info and a Fraunhofer VBRI header at byte 36
# (version 1, delay, quality 75, byte count, frame count, empty TOC), before the tagless VBR.
vbr_frames = frames(vbr)
vbri = bytearray(417)
vbri[0:4] = b"\xff\xfb\x90\x64"
vbri[36:40] = b"VBRI"
vbri[40:62] = struct.pack(">HHHIIHHHH", 1, 1105, 75, len(vbr) + 417, len(vbr_frames), 0, 1, 2, 1)
assert len(vbri) == 417
write("mp3_vbri_vbr.mp3", bytes(vbri) + vbr)

# 2 MiB ID3v2.3: one PRIV frame of 2 MiB, tag size syncsafe, before the Info-tagged CBR file.
payload = b"assetdrop-fixture\x00" + bytes(2 * 1024 * 1024)
frame = b"PRIV" + struct.pack(">I", len(payload)) + b"\x00\x00" + payload
size = len(frame)
syncsafe = bytes([(size >> 21) & 0x7F, (size >> 14) & 0x7F, (size >> 7) & 0x7F, size & 0x7F])
write("mp3_id3v2_2mib_cbr128.mp3", b"ID3\x03\x00\x00" + syncsafe + frame + info)

# Junk mid-stream: 1024 bytes of 0..255 inserted at byte 417*60 of the tagless CBR, plus a
# 128-byte ID3v1 tag at the end.
at = 417 * 60
id3v1 = b"TAG" + b"junk fixture".ljust(30, b"\x00") + b"assetdrop".ljust(30, b"\x00") \
    + bytes(30) + b"2024" + bytes(30) + b"\xff"
assert len(id3v1) == 128
write("mp3_junk_mid_cbr128.mp3", cbr[:at] + bytes(range(256)) * 4 + cbr[at:] + id3v1)

# One odd frame: frame 40 of the tagless CBR re-labelled 160 kb/s and padded with zero bytes to
# the 160 kb/s length (522 + padding bit).
cbr_frames = frames(cbr)
pos, length = cbr_frames[40]
odd = bytearray(cbr[pos:pos + length])
odd[2] = (odd[2] & 0x0F) | (10 << 4)
odd += bytes(522 + ((odd[2] >> 1) & 1) - length)
write("mp3_one_odd_frame_cbr128.mp3", cbr[:pos] + bytes(odd) + cbr[pos + length:])

# Info-tagged mix: the Info-tagged 128 kb/s file followed by a tagless 192 kb/s part.
write("mp3_info_mixed_128_192.mp3", info + part192)
PY
rm -f part128.mp3 part192.mp3
