"""URLs: tracking parameters, canonical form, and which URL identifies an article."""

from __future__ import annotations

import pytest

from newsmon.urls import canonicalize_url, feed_url_key, identity_url, is_tracking_param, safe_http_url, same_site


def test_canonicalize_url_drops_port_fragment_and_trackers() -> None:
    assert canonicalize_url("http://EX.com:80/p?fbclid=1&a=2&utm_medium=m#top") == "http://ex.com/p?a=2"
    assert canonicalize_url("https://ex.com") == "https://ex.com/"
    assert canonicalize_url("https://ex.com:8443/p") == "https://ex.com:8443/p"


@pytest.mark.parametrize(
    "name",
    ["utm_source", "UTM_Campaign", "fbclid", "gclid", "msclkid", "mc_cid", "mc_eid", "ref", "ocid", "cmpid", "smid",
     "ns_campaign", "_hsenc", "__twitter_impression"],
)  # fmt: skip
def test_tracking_parameters_are_recognised(name: str) -> None:
    assert is_tracking_param(name)


@pytest.mark.parametrize("name", ["id", "p", "page", "q", "story_id", "article", "year"])
def test_content_parameters_are_kept(name: str) -> None:
    assert not is_tracking_param(name)


def test_the_rest_of_the_url_is_kept_as_written() -> None:
    # blank parameters, their order, and path parameters change what some servers return
    assert (
        canonicalize_url("https://ex.com/index.php?article&b=2&a=1&utm_x=1")
        == "https://ex.com/index.php?article&b=2&a=1"
    )
    assert canonicalize_url("https://ex.com/p;jsessionid=1?x=1") == "https://ex.com/p;jsessionid=1?x=1"


@pytest.mark.parametrize(
    "url",
    ["https://blog.example.de/index.php?/archives/123-Titel.html", "http://ex.com/story.php?12345",
     "https://ex.com/suche?q=Stra%DFe", "https://ex.com/s?q=a+b&t=a%20b&u=%c3%a9&v=%7E", "https://ex.com/cgi?a=x;sid=7",
     "https://ex.com/a?id=10.1371/journal.pone.0288103&at=em:1,2", "https://ex.com/a?u=https://x.example/?y=1"],
)  # fmt: skip
def test_a_query_without_trackers_is_kept_byte_for_byte(url: str) -> None:
    assert canonicalize_url(url) == url


def test_trackers_are_dropped_by_their_decoded_name_and_the_rest_kept_as_written() -> None:
    assert canonicalize_url("https://ex.com/a?utm_source=x&q=Stra%DFe&fbclid=1") == "https://ex.com/a?q=Stra%DFe"
    assert canonicalize_url("https://ex.com/a?utm%5Fsource=x&id=7") == "https://ex.com/a?id=7"
    assert canonicalize_url("https://ex.com/a?a=1;utm_medium=m;b=/x&&c") == "https://ex.com/a?a=1;b=/x&c"
    assert canonicalize_url("https://ex.com/a?utm_source=x&utm_medium=y") == "https://ex.com/a"


@pytest.mark.parametrize(
    ("url", "canonical"),
    [("https://ex.com/a?id=7", "https://ex.com/a?id=7"), ("HTTPS://Ex.com:443/a?b=2&a=1#x", "https://ex.com/a?b=2&a=1"),
     ("https://ex.com/a?id=7&utm_source=rss&page=2", "https://ex.com/a?id=7&page=2"),
     ("https://ex.com/a?q=a+b&x=%2F", "https://ex.com/a?q=a+b&x=%2F"), ("https://ex.com/a?id=7&", "https://ex.com/a?id=7"),
     ("https://ex.com/a?", "https://ex.com/a")],
)  # fmt: skip
def test_plain_queries_canonicalize_as_they_always_did(url: str, canonical: str) -> None:
    """Document ids are hashes of canonical links: a plain query must keep its canonical form."""
    assert canonicalize_url(url) == canonical


@pytest.mark.parametrize(
    "url",
    ["HTTP://EX.com/feeds/shy.rss", "http://ex.com:80/feeds/shy.rss", "http://ex.com/feeds/shy.rss#x",
     "http://ex.com/./feeds/shy.rss", "http://ex.com/feeds/news/../shy.rss", "http://ex.com/../feeds/./shy.rss"],
)  # fmt: skip
def test_a_feed_url_written_another_way_has_the_same_key(url: str) -> None:
    assert feed_url_key(url) == feed_url_key("http://ex.com/feeds/shy.rss") == "http://ex.com/feeds/shy.rss"


def test_a_feed_url_key_keeps_what_can_pick_another_feed() -> None:
    # the query (WordPress's ?feed=..., even names newsmon treats as trackers in article links),
    # the path's case, a trailing slash, another port, scheme and user are other feeds
    assert feed_url_key("https://ex.com/?feed=rss2") != feed_url_key("https://ex.com/?feed=comments-rss2")
    assert feed_url_key("https://ex.com/rss?utm_source=x") == "https://ex.com/rss?utm_source=x"
    others = ("https://ex.com/RSS", "https://ex.com/rss", "https://ex.com/rss/", "https://ex.com:8443/rss",
              "http://ex.com/rss", "https://me@ex.com/rss")  # fmt: skip
    assert len({feed_url_key(u) for u in others}) == len(others)
    assert feed_url_key("https://EX.com") == "https://ex.com/"
    assert feed_url_key("https://ex.com/a/.") == "https://ex.com/a/"
    assert feed_url_key("http://[::1]:80/a/../b") == "http://[::1]/b"


def test_same_site_is_the_registered_domain() -> None:
    assert same_site("https://amp.bbc.co.uk/news/1", "https://www.bbc.co.uk/news/1")
    assert not same_site("https://www.bbc.co.uk/x", "https://www.cbc.ca/x")
    assert not same_site("https://a.blogspot.com/x", "https://b.blogspot.com/x")  # a public suffix: two sites
    assert same_site("http://127.0.0.1:8080/a", "http://127.0.0.1:8080/b")
    assert not same_site("http://127.0.0.1:8080/a", "http://127.0.0.1:9090/a")


def test_identity_is_the_declared_canonical_on_the_same_site_only() -> None:
    link = "https://m.example.com/news/42?utm_source=rss"
    assert identity_url(link, "https://www.example.com/news/42?utm_medium=x") == "https://www.example.com/news/42"
    assert identity_url(link, "/news/42") == "https://m.example.com/news/42"
    # a syndicated copy naming its original on another site stays its own document
    assert identity_url(link, "https://original.example.org/story") == link
    assert identity_url(link, "javascript:alert(1)") == link
    assert identity_url(link, None) == link


def test_safe_http_url_refuses_other_schemes_and_junk() -> None:
    assert safe_http_url(" https://ex.com/a ") == "https://ex.com/a"
    for bad in ("javascript:alert(1)", "file:///etc/passwd", "https://", "http://[::1", "https://a b/", 42):
        assert safe_http_url(bad) is None
