"""A tiny 5x7 bitmap font to burn text into pixel data, drawn with numpy (no font files).

Only upper-case Latin letters, digits and a few punctuation marks are drawn; any other character is drawn as a
blank cell. The glyphs were drawn for this project.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

_GLYPHS = {
    "A": (" ### ", "#   #", "#   #", "#####", "#   #", "#   #", "#   #"),
    "B": ("#### ", "#   #", "#   #", "#### ", "#   #", "#   #", "#### "),
    "C": (" ####", "#    ", "#    ", "#    ", "#    ", "#    ", " ####"),
    "D": ("#### ", "#   #", "#   #", "#   #", "#   #", "#   #", "#### "),
    "E": ("#####", "#    ", "#    ", "#### ", "#    ", "#    ", "#####"),
    "F": ("#####", "#    ", "#    ", "#### ", "#    ", "#    ", "#    "),
    "G": (" ####", "#    ", "#    ", "#  ##", "#   #", "#   #", " ####"),
    "H": ("#   #", "#   #", "#   #", "#####", "#   #", "#   #", "#   #"),
    "I": ("#####", "  #  ", "  #  ", "  #  ", "  #  ", "  #  ", "#####"),
    "J": ("  ###", "   # ", "   # ", "   # ", "#  # ", "#  # ", " ##  "),
    "K": ("#   #", "#  # ", "# #  ", "##   ", "# #  ", "#  # ", "#   #"),
    "L": ("#    ", "#    ", "#    ", "#    ", "#    ", "#    ", "#####"),
    "M": ("#   #", "## ##", "# # #", "# # #", "#   #", "#   #", "#   #"),
    "N": ("#   #", "##  #", "# # #", "#  ##", "#   #", "#   #", "#   #"),
    "O": (" ### ", "#   #", "#   #", "#   #", "#   #", "#   #", " ### "),
    "P": ("#### ", "#   #", "#   #", "#### ", "#    ", "#    ", "#    "),
    "Q": (" ### ", "#   #", "#   #", "#   #", "# # #", "#  # ", " ## #"),
    "R": ("#### ", "#   #", "#   #", "#### ", "# #  ", "#  # ", "#   #"),
    "S": (" ####", "#    ", "#    ", " ### ", "    #", "    #", "#### "),
    "T": ("#####", "  #  ", "  #  ", "  #  ", "  #  ", "  #  ", "  #  "),
    "U": ("#   #", "#   #", "#   #", "#   #", "#   #", "#   #", " ### "),
    "V": ("#   #", "#   #", "#   #", "#   #", "#   #", " # # ", "  #  "),
    "W": ("#   #", "#   #", "#   #", "# # #", "# # #", "## ##", "#   #"),
    "X": ("#   #", "#   #", " # # ", "  #  ", " # # ", "#   #", "#   #"),
    "Y": ("#   #", "#   #", " # # ", "  #  ", "  #  ", "  #  ", "  #  "),
    "Z": ("#####", "    #", "   # ", "  #  ", " #   ", "#    ", "#####"),
    "0": (" ### ", "#   #", "#  ##", "# # #", "##  #", "#   #", " ### "),
    "1": ("  #  ", " ##  ", "  #  ", "  #  ", "  #  ", "  #  ", " ### "),
    "2": (" ### ", "#   #", "    #", "   # ", "  #  ", " #   ", "#####"),
    "3": ("#####", "   # ", "  #  ", "   # ", "    #", "#   #", " ### "),
    "4": ("   # ", "  ## ", " # # ", "#  # ", "#####", "   # ", "   # "),
    "5": ("#####", "#    ", "#### ", "    #", "    #", "#   #", " ### "),
    "6": ("  ## ", " #   ", "#    ", "#### ", "#   #", "#   #", " ### "),
    "7": ("#####", "    #", "   # ", "  #  ", " #   ", " #   ", " #   "),
    "8": (" ### ", "#   #", "#   #", " ### ", "#   #", "#   #", " ### "),
    "9": (" ### ", "#   #", "#   #", " ####", "    #", "   # ", " ##  "),
    "-": ("     ", "     ", "     ", " ### ", "     ", "     ", "     "),
    ":": ("     ", "  #  ", "  #  ", "     ", "  #  ", "  #  ", "     "),
    "/": ("    #", "    #", "   # ", "  #  ", " #   ", "#    ", "#    "),
    ".": ("     ", "     ", "     ", "     ", "     ", "     ", "  #  "),
    ",": ("     ", "     ", "     ", "     ", "     ", "  #  ", " #   "),
    "^": ("  #  ", " # # ", "#   #", "     ", "     ", "     ", "     "),
}
GLYPH_HEIGHT, GLYPH_WIDTH = 7, 5


@lru_cache(maxsize=None)
def _glyph(char: str) -> np.ndarray:
    rows = _GLYPHS.get(char.upper())
    if rows is None:
        return np.zeros((GLYPH_HEIGHT, GLYPH_WIDTH), dtype=bool)
    return np.array([[c == "#" for c in row] for row in rows], dtype=bool)


def text_mask(text: str, *, scale: int = 1) -> np.ndarray:
    """Boolean mask of ``text`` rendered in the 5x7 font with one blank column between glyphs.

    Parameters
    ----------
    text : str
        Characters to draw; those without a glyph leave a blank cell.
    scale : int
        Integer magnification of every glyph pixel.

    Returns
    -------
    numpy.ndarray of shape (7 * scale, 6 * len(text) * scale), dtype bool
    """
    if not text:
        return np.zeros((GLYPH_HEIGHT * scale, 0), dtype=bool)
    cells = [np.pad(_glyph(c), ((0, 0), (0, 1))) for c in text]
    mask = np.concatenate(cells, axis=1)
    if scale > 1:
        mask = np.repeat(np.repeat(mask, scale, axis=0), scale, axis=1)
    return mask


def burn_text(image: np.ndarray, text: str, *, row: int, col: int, value, scale: int = 1) -> None:
    """Set the pixels of ``text`` in ``image`` (in place) to ``value``, clipped at the image border."""
    mask = text_mask(text, scale=scale)
    h = max(0, min(mask.shape[0], image.shape[0] - row))
    w = max(0, min(mask.shape[1], image.shape[1] - col))
    if h and w:
        region = image[row:row + h, col:col + w]
        region[mask[:h, :w]] = value
