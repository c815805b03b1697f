"""QR codes of coupon codes: a full QR (never a Micro QR, which scanners miss) that reads back."""

from __future__ import annotations

import io

import zxingcpp
from PIL import Image

from couponry.adapters.qr import qr_code, qr_svg


def test_the_svg_is_inline_ready_and_scales() -> None:
    svg = qr_svg("WELCOME10")
    assert svg.startswith("<svg") and "viewBox" in svg and "<?xml" not in svg
    assert "width=" not in svg.split(">", 1)[0]  # sized by the page's CSS, not fixed


def test_a_short_code_is_a_full_qr_code_that_a_scanner_reads_back() -> None:
    # the same symbol qr_svg draws, rasterized: a scanner library finds the code in it
    out = io.BytesIO()
    symbol = qr_code("AB")
    assert not symbol.is_micro
    symbol.save(out, kind="png", scale=8, border=4)
    [found] = zxingcpp.read_barcodes(Image.open(io.BytesIO(out.getvalue())))
    assert found.text == "AB" and found.format == zxingcpp.BarcodeFormat.QRCode
