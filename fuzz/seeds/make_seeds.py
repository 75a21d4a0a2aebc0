#!/usr/bin/env python3
"""Writes the small seed inputs of the fuzz targets (fuzz/seeds/<target>/), deterministically.

Each seed starts with the selector byte its target reads first (the name or settings to use).
The tiny encoded audio files (Ogg Vorbis, FLAC, M4A, ADTS, Opus) were made once with ffmpeg,
`ffmpeg -f lavfi -i sine=f=440:d=0.05 -ac 1 -ar 8000 -c:a <codec> out.<ext>`, and are kept as
they are (this script copies two of them into the sniffer's seeds).
"""
import json
import os
import struct
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))


def put(target, name, data):
    os.makedirs(os.path.join(HERE, target), exist_ok=True)
    with open(os.path.join(HERE, target, name), "wb") as f:
        f.write(data)


# --- media ---------------------------------------------------------------------------------

def png(w=2, h=2):
    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
    raw = b"".join(b"\x00" + b"\x00\x00\x00" * w for _ in range(h))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def jpeg():
    sof = b"\xff\xc0" + struct.pack(">HBHHB", 11, 8, 3, 4, 1) + b"\x01\x11\x00"
    return b"\xff\xd8\xff\xe0" + struct.pack(">H", 16) + b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00" + sof + b"\xff\xd9"


def tiff():
    entries = [(256, 3, 1, 2), (257, 3, 1, 2), (273, 4, 1, 26 + 12 * 4), (279, 4, 1, 4)]
    body = struct.pack("<H", len(entries))
    for tag, kind, n, value in entries:
        body += struct.pack("<HHII", tag, kind, n, value)
    body += b"\x00\x00\x00\x00"
    return b"II*\x00" + struct.pack("<I", 8) + body + b"\x00" * 16


def box(kind, body):
    return struct.pack(">I", 8 + len(body)) + kind + body


def mp4():
    ftyp = box(b"ftyp", b"isom\x00\x00\x02\x00isomiso2mp41")
    mvhd = box(b"mvhd", b"\x00" * 4 + struct.pack(">IIII", 0, 0, 1000, 2000) + b"\x00" * 80)
    mdhd = box(b"mdhd", b"\x00" * 4 + struct.pack(">IIII", 0, 0, 25, 50) + b"\x00" * 4)
    hdlr = box(b"hdlr", b"\x00" * 8 + b"vide" + b"\x00" * 13)
    stts = box(b"stts", b"\x00" * 4 + struct.pack(">III", 1, 50, 1))
    stbl = box(b"stbl", stts)
    minf = box(b"minf", stbl)
    mdia = box(b"mdia", mdhd + hdlr + minf)
    trak = box(b"trak", box(b"tkhd", b"\x00" * 84) + mdia)
    return ftyp + box(b"moov", mvhd + trak) + box(b"mdat", b"\x00" * 16)


def ebml(doctype):
    def el(id_bytes, body):
        return id_bytes + bytes([0x80 | len(body)]) + body
    header = el(b"\x1a\x45\xdf\xa3", el(b"\x42\x82", doctype) + el(b"\x42\x87", b"\x04"))
    info = el(b"\x15\x49\xa9\x66", el(b"\x2a\xd7\xb1", b"\x0f\x42\x40"))
    video = el(b"\xe0", el(b"\xb0", b"\x02") + el(b"\xba", b"\x02"))
    track = el(b"\xae", el(b"\xd7", b"\x01") + el(b"\x83", b"\x01") + el(b"\x23\xe3\x83", b"\x02\x62\x5a") + video)
    tracks = el(b"\x16\x54\xae\x6b", track)
    segment = b"\x18\x53\x80\x67" + b"\x01\xff\xff\xff\xff\xff\xff\xff" + info + tracks
    return header + segment


def nifti():
    h = bytearray(352)
    struct.pack_into("<i", h, 0, 348)
    struct.pack_into("<8h", h, 40, 3, 2, 2, 2, 1, 1, 1, 1)
    struct.pack_into("<hh", h, 70, 2, 8)
    struct.pack_into("<f", h, 108, 352.0)
    h[344:348] = b"n+1\x00"
    return bytes(h) + b"\x00" * 8


def dicom():
    meta = b"\x02\x00\x10\x00UI\x14\x001.2.840.10008.1.2.1\x00"
    return b"\x00" * 128 + b"DICM" + b"\x02\x00\x00\x00UL\x04\x00" + struct.pack("<I", len(meta)) + meta


SNIFF = {
    "png": (1, png()),
    "jpeg": (0, jpeg()),
    "tiff": (2, tiff()),
    "mp4": (3, mp4()),
    "webm": (5, ebml(b"webm")),
    "mkv": (6, ebml(b"matroska")),
    "pdf": (10, b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"),
    "txt": (11, "plain text, caf\u00e9\n".encode()),
    "md": (12, b"# Title\n\n* item\n"),
    "html": (11, b"<!DOCTYPE html><html><body><p>hi</p></body></html>"),
    "dicom": (13, dicom()),
    "nrrd": (14, b"NRRD0004\ntype: uint8\ndimension: 1\nsizes: 4\nencoding: raw\n\n\x00\x01\x02\x03"),
    "nifti": (15, nifti()),
    "niigz": (15, __import__("gzip").compress(nifti(), mtime=0)),
    "utf16": (11, "\ufeffhello".encode("utf-16-le")),
    "zip": (0, b"PK\x03\x04" + b"\x00" * 26),
}

# --- audio ---------------------------------------------------------------------------------

def mp3_frame(index, pad=False, rate_bits=0, payload=0):
    """An MPEG-1 Layer III frame at 44.1 kHz (rate_bits 0), stereo."""
    rates = [0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320]
    header = bytes([0xFF, 0xFB, (index << 4) | (rate_bits << 2) | (2 if pad else 0), 0x04])
    length = 144 * rates[index] * 1000 // 44100 + (1 if pad else 0)
    return header + bytes([payload]) * (length - 4)


def xing(magic, frames):
    body = bytearray(mp3_frame(9))
    at = 4 + 32
    body[at:at + 4] = magic
    body[at + 4:at + 8] = struct.pack(">I", 1)
    body[at + 8:at + 12] = struct.pack(">I", frames)
    return bytes(body)


def wav(tag, channels, rate, bits, data, extra=b""):
    align = channels * bits // 8 or 1
    fmt = struct.pack("<HHIIHH", tag, channels, rate, rate * align, align, bits) + extra
    chunks = b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"data" + struct.pack("<I", len(data)) + data
    return b"RIFF" + struct.pack("<I", 4 + len(chunks)) + b"WAVE" + chunks


def adts(frames=3):
    out = b""
    for _ in range(frames):
        length = 7 + 8
        header = bytes([0xFF, 0xF1, 0x50, 0x80 | (length >> 11), (length >> 3) & 0xFF, ((length & 7) << 5) | 0x1F, 0xFC])
        out += header + b"\x21\x00\x49\x90\x02\x19\x00\x23"
    return out


def aiff():
    comm = struct.pack(">hIh", 1, 4, 16) + b"\x40\x0b\xfa\x00\x00\x00\x00\x00\x00\x00"
    ssnd = struct.pack(">II", 0, 0) + b"\x00" * 8
    body = b"AIFF" + b"COMM" + struct.pack(">I", len(comm)) + comm + b"SSND" + struct.pack(">I", len(ssnd)) + ssnd
    return b"FORM" + struct.pack(">I", len(body)) + body


ID3 = b"ID3\x03\x00\x00\x00\x00\x00\x0a" + b"\x00" * 10

AUDIO = {
    "mp3_cbr": (0, b"".join(mp3_frame(9) for _ in range(4))),
    "mp3_vbr": (0, mp3_frame(9) + mp3_frame(11) + mp3_frame(5) + mp3_frame(14)),
    "mp3_xing": (0, xing(b"Xing", 3) + b"".join(mp3_frame(i) for i in (9, 10, 11))),
    "mp3_info_id3": (0, ID3 + xing(b"Info", 3) + b"".join(mp3_frame(9) for _ in range(3))),
    "mp3_junk_cut": (0, mp3_frame(9) + b"junk" + mp3_frame(9) + mp3_frame(9)[:50]),
    "mp3_free": (0, b"".join(mp3_frame(0, payload=0) + b"\x00" * 400 for _ in range(3))),
    "mp3_zero_padded": (0, b"\x00" * 600 + b"".join(mp3_frame(9) for _ in range(3))),
    "wav_pcm": (1, wav(1, 1, 8000, 16, b"\x00\x01" * 16)),
    "wav_float": (1, wav(3, 2, 8000, 32, b"\x00" * 32)),
    "wav_mp3": (1, wav(0x55, 2, 44100, 0, b"".join(mp3_frame(9) for _ in range(2)), b"\x00\x00")),
    "wav_adpcm": (1, wav(0x11, 1, 8000, 4, b"\x00" * 256, struct.pack("<HH", 2, 505))),
    "wav_cut": (1, wav(1, 1, 8000, 16, b"\x00" * 64)[:60]),
    "adts": (7, adts()),
    "aiff": (6, aiff()),
}

# --- cloud ---------------------------------------------------------------------------------

CLOUD = {
    "valid": (0, json.dumps([
        {"data": "https://example.com/a.jpg", "externalId": "a", "batches": ["b1"],
         "metadata": {"width": 10, "height": 20}, "contextData": {"k": "v"}},
        {"data": "https://example.com/v.mp4", "externalId": "v", "metadata": {"frameRate": 25}},
        {"data": "<p>inline</p>", "externalId": "h", "editorType": "html"},
        {"data": "plain text", "externalId": "t", "editorType": "text"},
    ], indent=1).encode()),
    "dataset": (0, json.dumps([{"externalId": "d", "data": "x", "dataset": ["https://e.com/1.png", "https://e.com/2.png"]}]).encode()),
    "attachments": (0, json.dumps([{"data": "https://e.com/a.png", "externalId": "at",
        "attachments": [{"type": "IMAGE", "value": "https://e.com/b.png"}, {"type": "TEXT", "value": "note"}]}]).encode()),
    "storage": (0, json.dumps([{"data": "s3://bucket/a.png", "externalId": "s", "storageId": "st1"}]).encode()),
    "classifications": (0, json.dumps([{"data": "https://e.com/a.png", "externalId": "c",
        "preLabels": [{"schemaId": "s1", "answer": "yes"}]}]).encode()),
    "duplicates": (1, b'[{"data":"https://e.com/1.png","externalId":"a"},{"data":"https://e.com/2.png","externalId":"a"}]'),
    "fixable": (4, b'[{"data":"https://e.com/a b.png","externalId":"x y"}]'),
    "errors": (2, b'[{"data":1,"externalId":{}},{"daat":"https://e.com/a.png"},\'x\',[1,2],{"data":"javascript:alert(1)","externalId":"j"}]'),
    "truncated": (0, b'[{"data":"https://e.com/a.png","externalId":"a"},{"data":"htt'),
    "deep": (16, b'[{"data":"https://e.com/a.png","externalId":"a","contextData":{"a":{"b":{"c":{"d":[1]}}}}}]'),
    "trailing": (0, b'[{"data":"https://e.com/a.png","externalId":"a"},] garbage'),
    "not_array": (0, b'{"data":"https://e.com/a.png","externalId":"a"}'),
    "not_utf8": (0, b'[{"data":"https://e.com/\xff.png","externalId":"a"}]'),
    # Addresses the URL check must not reach: every way of writing loopback or metadata.
    "private_addresses": (0, json.dumps([{"data": u, "externalId": str(i)} for i, u in enumerate([
        "http://127.0.0.1:8080/a.png", "http://[::1]/a.png", "http://[::ffff:0:7f00:1]/a.png",
        "http://[::ffff:127.0.0.1]/a.png", "http://[64:ff9b::a9fe:a9fe]/latest", "http://169.254.169.254/x.jpg",
        "http://0x7f000001/a.png", "http://2130706433/a.png", "http://0177.0.0.1/a.png", "http://[fe80::1%25eth0]/a.png"])]).encode()),
    "lines": (0, b'{"data":"https://e.com/a.png","externalId":"a"}\n{"data":"https://e.com/b.png","externalId":"b"}\n'),
    # UTF-16 with its byte-order mark (read as text), and with half a surrogate pair (an error).
    "utf16": (0, b"\xff\xfe" + '[{"data":"https://e.com/a.png","externalId":"\U0001F408"}]'.encode("utf-16-le")),
    "utf16_broken": (0, b"\xfe\xff" + '[{"data":"https://e.com/a.png","externalId":"a\ud83d"}]'.encode("utf-16-be", "surrogatepass")),
}

# --- template ------------------------------------------------------------------------------

T = "<h1>{{title}}</h1><p>{{Color}}</p><a href=\"{{link}}\">go</a><img src=\"{{img}}\"><iframe src=\"{{page}}\"></iframe><p>{{tags}}</p>"
CSV = "id,title,link,img,page,batch,tags\n1,Hello <b>,https://e.com,https://e.com/a.png,https://e.com/p,b1;b2,x;y\n2,\"quoted, \"\"cell\"\"\",javascript:alert(1),data:x,,,\n"
TEMPLATE = {
    "csv": (0, (T + "\x00" + CSV).encode()),
    "tsv": (2, (T + "\x00" + CSV.replace(",", "\t")).encode()),
    "json": (3, (T + "\x00" + json.dumps([{"id": "1", "title": "t", "link": "https://e.com", "img": "https://e.com/a.png",
                                             "page": "", "batch": "b", "tags": "a;b"}, {"id": 2, "title": None}])).encode()),
    "semicolon": (0x20, (T + "\x00" + CSV.replace(",", ";")).encode()),
    "escaped": (0, ("&lt;p&gt;{{title}}&lt;/p&gt;<table><tr><td>{{id}}</td></tr></table><script>var x='{{title}}'</script><style>p{}</style>{{unknown}}"
                    + "\x00" + CSV).encode()),
    "own_config": (0, ("<div title=\"{{a}}\">{{a}} {{b}}</div>\x00a,b\n1,2\n3\n\x00"
                       + json.dumps({"name": "n", "selectedExternalId": "a", "dataConfig": {"a": {"type": "text"}, "b": {"type": "link"}}})).encode()),
    "bom_crlf": (0, (T + "\x00\ufeffid,title\r\n1,\"multi\r\nline\"\r\n").encode()),
    "utf16_tsv": (2, (T + "\x00").encode() + b"\xff\xfe" + "id\ttitle\r\n1\tCaf\u00e9 \U0001F408\r\n".encode("utf-16-le")),
}


def main():
    for target, table in (("sniff", SNIFF), ("audio_probe", AUDIO), ("cloud_reader", CLOUD), ("template", TEMPLATE)):
        for name, (pick, data) in table.items():
            put(target, name, bytes([pick]) + data)
    # The sniffer also gets audio, under the names .mp3, .wav, .mp4 (an M4A) and .ogg.
    put("sniff", "mp3", bytes([7]) + AUDIO["mp3_xing"][1])
    put("sniff", "mp3_zero_padded", bytes([7]) + AUDIO["mp3_zero_padded"][1])
    put("sniff", "wav", bytes([8]) + AUDIO["wav_pcm"][1])
    for encoded, name, pick in (("m4a_aac", "m4a", 3), ("ogg_vorbis", "ogg", 9)):
        with open(os.path.join(HERE, "audio_probe", encoded), "rb") as f:
            put("sniff", name, bytes([pick]) + f.read()[1:])


if __name__ == "__main__":
    main()
