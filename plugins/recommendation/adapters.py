"""The MovieLens layout (a folder with movies.csv and optionally tags.csv, or that movies.csv
itself) as catalogue items.

Mapping: ``movieId`` → ``id``; ``title`` → ``title``; ``genres`` (``|``-separated) and the
user tags of tags.csv → ``tags``; ``text`` = title, genres and tags in one line, which is
what the text models read. ratings.csv is plain CSV (userId, movieId, rating, timestamp)
and is read as interactions by the ``csv`` adapter.
"""

from __future__ import annotations

import csv
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

from core import BadRecord, DataAdapter, DataError, ReadOptions, Record


class MovieLensItemsAdapter(DataAdapter):
    name = "movielens"
    description = "MovieLens folder (movies.csv [+ tags.csv]) as items: id, title, text, tags"

    def can_read(self, source: str) -> bool:
        return (Path(source) / "movies.csv").is_file() or is_movies_csv(source)

    def read(self, source: str, options: ReadOptions) -> Iterator[Record | BadRecord]:
        path = Path(source)
        movies = path if path.is_file() else path / "movies.csv"  # the folder, or its movies.csv
        if not movies.is_file():
            raise DataError(str(movies), "no such file", hint="point at a MovieLens folder or its movies.csv")
        tags = _user_tags(movies.parent / "tags.csv", options.encoding)
        with movies.open(encoding=options.encoding, newline="") as handle:
            reader = csv.DictReader(handle)
            missing = {"movieId", "title", "genres"} - set(reader.fieldnames or ())
            if missing:
                raise DataError(str(movies), f"missing column(s): {', '.join(sorted(missing))}", line=1)
            for row in reader:
                line = reader.line_num
                item_id, title = (row["movieId"] or "").strip(), (row["title"] or "").strip()
                if not item_id or not title:
                    yield BadRecord(str(movies), line, "movieId" if not item_id else "title", "empty value")
                    continue
                genres = [g for g in (row["genres"] or "").split("|") if g and g != "(no genres listed)"]
                item_tags = genres + tags.get(item_id, [])
                text = title + (". " + ", ".join(item_tags) if item_tags else "")
                yield Record(str(movies), line, {"id": item_id, "title": title, "text": text, "tags": item_tags})


def is_movies_csv(source: str) -> bool:
    """Whether ``source`` is a MovieLens movies.csv (its header starts movieId,title,genres)."""
    path = Path(source)
    if path.suffix.lower() != ".csv" or not path.is_file():
        return False
    with path.open(encoding="utf-8", errors="replace") as handle:
        return handle.readline().strip().lstrip("\ufeff").startswith("movieId,title,genres")


def _user_tags(path: Path, encoding: str, limit: int = 10) -> dict[str, list[str]]:
    """Most frequent distinct tags per movie (case-folded), capped so texts stay short."""
    if not path.is_file():
        return {}
    counts: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    with path.open(encoding=encoding, newline="") as handle:
        for row in csv.DictReader(handle):
            tag = (row.get("tag") or "").strip().lower()
            if tag and row.get("movieId"):
                counts[row["movieId"]][tag] += 1
    return {
        movie: [t for t, _ in sorted(c.items(), key=lambda kv: (-kv[1], kv[0]))[:limit]]
        for movie, c in counts.items()
    }
