"""QR codes as inline SVG (segno: pure Python, no image library, BSD licence).

Always a full QR code (`make_qr`): for short texts plain `segno.make` picks a Micro QR, which phones
and most scanner libraries cannot read.
"""

from __future__ import annotations

import io

import segno


def qr_code(text: str) -> segno.QRCode:
    """The symbol for `text`: a full QR code, error correction M."""
    return segno.make_qr(text, error="m")


def qr_svg(text: str, *, scale: int = 8) -> str:
    """An <svg> of `text` with a quiet zone of 4 modules, scalable (viewBox, no fixed size), no XML
    declaration, so it can be inlined in a page; black on white whatever the page's colours."""
    qr = qr_code(text)
    out = io.BytesIO()
    qr.save(out, kind="svg", scale=scale, border=4, xmldecl=False, omitsize=True, light="#fff", dark="#000",
            svgclass="qr-code", lineclass=None)  # fmt: skip
    return out.getvalue().decode()
