"""Terms for lexical matching (TF-IDF, BM25, keyword overlap) in any script.

Whitespace tokenisers see a Chinese sentence as one word, so a lexical scorer finds nothing
in common between 我的银行卡丢了 and 银行卡丢失怎么办. Here a Latin word is one term (lower
case) and a run of CJK characters gives its characters and its character bigrams: no
segmenter to install, and bigrams keep most of the signal of two-character words.
"""

from __future__ import annotations

from core.explain import is_cjk, words


def terms(text: str) -> list[str]:
    """Lower-cased words; for CJK runs, each character and each adjacent pair."""
    out: list[str] = []
    run: list[str] = []
    last_end = -1
    for word in words(text):
        if is_cjk(word.text):
            if run and word.start != last_end:
                out += _cjk_terms(run)
                run = []
            run.append(word.text)
            last_end = word.end
            continue
        if run:
            out += _cjk_terms(run)
            run = []
        out.append(word.text.lower())
    return out + (_cjk_terms(run) if run else [])


def _cjk_terms(run: list[str]) -> list[str]:
    return run + [a + b for a, b in zip(run, run[1:])]


__all__ = ["terms"]
