from tasks.core.records import Paper, Submission
from tasks.harvest.match import author_overlap, match_papers, normalise_title


def _paper(pid, title, authors, arxiv_id=None):
    return Paper(paper_id=pid, source="arxiv", title=title, authors=authors, arxiv_id=arxiv_id)


def _sub(fid, title, authors, arxiv_id=None, license=None):
    return Submission(forum_id=fid, venue="V", api_version=2, title=title, authors=authors,
                      arxiv_id=arxiv_id, license=license)


def test_normalisation():
    assert normalise_title("  Gödel's   Theorem:\nA Re-Look! ") == "godel s theorem a re look"
    assert author_overlap(["Ann B. Smith", "Joe Doe"], ["A. Smith"]) == 1.0
    assert author_overlap([], ["A. Smith"]) == 0.0


def test_match_methods_and_licence():
    papers = [
        _paper("arxiv:1", "Anything", ["X"], arxiv_id="2401.00001"),
        _paper("arxiv:2", "Deep Nets Are Smooth: A Study", ["Ann Smith", "Bo Li"]),
        _paper("arxiv:3", "Deep Nets Are Smooth: A Study", ["Zed Other"]),
        _paper("arxiv:4", "Anonymous Paper About Kernels", ["Q"]),
        _paper("arxiv:5", "Completely Different Topic Here", ["Ann Smith"]),
    ]
    subs = [
        _sub("f1", "Unrelated title", ["Y"], arxiv_id="2401.00001", license="CC BY 4.0"),
        _sub("f2", "Deep nets are smooth - a study", ["A. Smith", "C. D."]),
        _sub("f4", "Anonymous paper about kernels", []),
    ]
    out = {p.paper_id: p for p in match_papers(papers, subs, title_threshold=92, min_author_overlap=0.5)}
    assert (out["arxiv:1"].match_method, out["arxiv:1"].openreview_id, out["arxiv:1"].license) == \
        ("arxiv_id", "f1", "CC BY 4.0")
    assert out["arxiv:1"].license_source == "openreview_note"
    assert out["arxiv:2"].match_method == "title_authors" and out["arxiv:2"].match_score >= 92
    assert out["arxiv:3"].match_method == "none"  # same title, no shared author
    assert out["arxiv:4"].match_method == "title_only"
    assert out["arxiv:5"].match_method == "none" and out["arxiv:5"].license == "unknown"
