#!/usr/bin/python3
"""A small GTK window whose button is a drag source of file:// URIs, for a real OS-level
drag-and-drop (XDND) onto the app under test. Run with the system Python (it has `gi`).

    drag_source.py X Y PATH...

opens the window at (X, Y) and prints `ready` once it is on screen; xdotool then presses the
button, moves in steps onto the drop zone and releases.
"""

import sys
from pathlib import Path

import gi

gi.require_version("Gtk", "3.0")
gi.require_version("Gdk", "3.0")
from gi.repository import Gdk, GLib, Gtk  # noqa: E402


def main() -> None:
    x, y = int(sys.argv[1]), int(sys.argv[2])
    uris = [Path(p).resolve().as_uri() for p in sys.argv[3:]]
    win = Gtk.Window(title="assetdrop drag source")
    win.set_decorated(False)
    win.move(x, y)
    win.set_default_size(160, 80)
    button = Gtk.Button(label="drag me")
    button.drag_source_set(Gdk.ModifierType.BUTTON1_MASK, [], Gdk.DragAction.COPY)
    button.drag_source_add_uri_targets()
    button.connect("drag-data-get", lambda _w, _c, data, _i, _t: data.set_uris(uris))
    button.connect("drag-end", lambda *_: GLib.timeout_add(300, Gtk.main_quit))
    win.add(button)
    win.connect("destroy", Gtk.main_quit)
    win.show_all()

    def ready() -> bool:
        print("ready", flush=True)
        return False

    GLib.timeout_add(300, ready)
    # Quit on its own if no drag ever comes.
    GLib.timeout_add_seconds(60, Gtk.main_quit)
    Gtk.main()


if __name__ == "__main__":
    main()
