"""Page images: a huge page renders within the pixel cap; at most two renders run at once."""

from __future__ import annotations

import threading
import time

import pymupdf

from tasks.documents import pages


def pdf_with_page(width_pt: float, height_pt: float) -> bytes:
    doc = pymupdf.open()
    page = doc.new_page(width=width_pt, height=height_pt)
    page.insert_text((72, 72), "A page of a paper.")
    return doc.tobytes()


def png_size(png: bytes) -> tuple[int, int]:
    image = pymupdf.Pixmap(png)
    return image.width, image.height


def test_an_ordinary_page_keeps_its_resolution():
    width, height = png_size(pages.page_png(pdf_with_page(612, 792), 1))
    assert (width, height) == (round(612 * 110 / 72), round(792 * 110 / 72))


def test_a_huge_page_is_rendered_within_the_pixel_cap():
    huge = pdf_with_page(14_400, 14_400)  # the largest page PDF allows: ~4.8e8 pixels at 110 dpi
    started = time.perf_counter()
    width, height = png_size(pages.page_png(huge, 1, highlight=[0, 0, 100, 100]))
    assert width * height <= pages.MAX_PIXELS and width > 1000
    assert time.perf_counter() - started < 30


def test_no_more_than_two_pages_render_at_once(monkeypatch):
    running, peak, lock = 0, 0, threading.Lock()
    real = pymupdf.Page.get_pixmap

    def slow_pixmap(self, *args, **kwargs):
        nonlocal running, peak
        with lock:
            running += 1
            peak = max(peak, running)
        time.sleep(0.1)
        with lock:
            running -= 1
        return real(self, *args, **kwargs)

    monkeypatch.setattr(pymupdf.Page, "get_pixmap", slow_pixmap)
    data = pdf_with_page(612, 792)
    threads = [threading.Thread(target=pages.page_png, args=(data, 1)) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert peak == pages.CONCURRENT_RENDERS
