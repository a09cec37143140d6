"""Decoding, sentence splitting and hashing (newsmon.text)."""

from __future__ import annotations

import codecs

import pytest

from newsmon.text import (
    UndecodableError,
    clean_text,
    decode_bytes,
    decode_mostly_utf8,
    decode_utf16_without_bom,
    is_plain_western,
    normalize_for_match,
    shorten,
    split_sentences,
    text_hash,
    words,
)

FRENCH = (
    "Le président a déclaré que la réunion à Genève était très importante pour l'économie européenne. "
    "Ça a été une journée difficile, où les négociations ont échoué."
)
GERMAN = (
    "Die Außenminister trafen sich in München, um über die Beziehungen zu Österreich zu sprechen. "
    "„Es war schwierig“, sagte er – mit freundlichen Grüßen."
)
SPANISH = "El niño está en la ciudad de México, señor. La reunión terminó después de las ocho."
RUSSIAN = (
    "Министр иностранных дел России встретился с коллегами из Казахстана и Узбекистана. Переговоры прошли в Астане."
)

# --- decode_bytes -------------------------------------------------------------------------


def test_utf8_is_decoded_as_utf8() -> None:
    text = "Café “quoted” – Ünïcödé, Казахстан, 中文"
    assert decode_bytes(text.encode("utf-8")) == (text, "utf-8")


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ("Réforme du président".encode() + b" \x96 " + "élu à Zürich".encode(), "Réforme du président – élu à Zürich"),
        ("Café news one".encode() + b"\xff\xfe", "Café news oneÿþ"),
        ("Les élèves d’aujourd’hui".encode() + b" caf\xe9", "Les élèves d’aujourd’hui café"),
        (RUSSIAN.encode() + b"\x85", RUSSIAN + "…"),
    ],
    ids=["cp1252-dash", "stray-bytes", "cp1252-letter", "cyrillic"],
)
def test_utf8_with_a_few_stray_bytes_stays_utf8(data: bytes, expected: str) -> None:
    """UTF-8 text with a fragment in windows-1252 (or a stray byte) is not read as a code page
    throughout (``CafÃ©``): its stray bytes are read as windows-1252."""
    assert decode_bytes(data) == (expected, "utf-8")


@pytest.mark.parametrize("codec", ["cp1252", "cp1251", "euc-jp", "gb18030"])
def test_legacy_text_is_not_taken_for_utf8_with_stray_bytes(codec: str) -> None:
    text = {
        "cp1252": FRENCH,
        "cp1251": RUSSIAN,
        "euc-jp": "外務大臣は火曜日、アスタナで中央アジア五か国の外相と会談した。",
        "gb18030": "外交部长周二在阿斯塔纳会见了中亚五国外长，讨论贸易与安全。",
    }[codec]
    assert decode_mostly_utf8(text.encode(codec)) is None


def test_utf8_bom_is_dropped() -> None:
    text, encoding = decode_bytes(codecs.BOM_UTF8 + FRENCH.encode("utf-8"))
    assert text == FRENCH
    assert not text.startswith("\ufeff")
    assert encoding == "utf-8"


@pytest.mark.parametrize(
    "data",
    [
        codecs.BOM_UTF16_LE + RUSSIAN.encode("utf-16-le"),
        codecs.BOM_UTF16_BE + RUSSIAN.encode("utf-16-be"),
    ],
    ids=["utf-16-le", "utf-16-be"],
)
def test_utf16_with_bom(data: bytes) -> None:
    text, encoding = decode_bytes(data)
    assert text == RUSSIAN
    assert encoding == "utf-16"


@pytest.mark.parametrize("codec", ["utf-16-le", "utf-16-be"])
def test_utf16_without_bom_in_one_alphabet_is_read_not_taken_for_binary(codec: str) -> None:
    """No BOM and no NUL in every other byte: a Cyrillic or Greek text's high bytes are its
    alphabet's block (and NUL for spaces), which is how it is told from binary data."""
    greek = "Οι υπουργοί Εξωτερικών συναντήθηκαν στην Αθήνα για τις κυρώσεις."
    for original in (RUSSIAN, greek):
        assert decode_bytes(original.encode(codec)) == (original, codec)
    noise = bytes((n * 7919 + 13) % 256 for n in range(4096))  # no alphabet's shape
    assert decode_utf16_without_bom(noise) is None


def test_utf16_with_bom_and_ascii_text_is_not_taken_for_binary() -> None:
    # Every other byte is NUL: only the BOM tells it from binary data.
    text, _ = decode_bytes("Hello world\n".encode("utf-16"))
    assert text == "Hello world\n"


@pytest.mark.parametrize(
    ("original", "codec"),
    [(FRENCH, "latin-1"), (FRENCH, "cp1252"), (GERMAN, "cp1252"), (SPANISH, "latin-1"), ("Café à Genève", "latin-1")],
    ids=["french-latin1", "french-cp1252", "german-cp1252", "spanish-latin1", "short-latin1"],
)
def test_undeclared_western_legacy_bytes_decode_to_the_right_letters(original: str, codec: str) -> None:
    data = original.encode(codec)
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")  # the detection path is what is under test
    text, _ = decode_bytes(data)
    assert "\ufffd" not in text
    assert text == original


CZECH = "Vláda ve středu schválila návrh zákona o státním rozpočtu. Ministr financí řekl, že schodek bude nižší."
ENGLISH_PROSE = "The council said prices would rise. " * 50
ENGLISH_TAIL = "Officials added that the rules apply from next year. " * 50


@pytest.mark.parametrize(
    "sentence",
    [
        "Toyota’s shares fell. ",
        "“We will not wait,” the minister said — and left. ",
        "The café’s owner paid £40 – or €45 – for the licence. ",
        "Shares of Nestlé rose 2½ %… ",
    ],
    ids=["apostrophe", "quotes-dash", "accent-pound-euro", "fraction-ellipsis"],
)
def test_english_windows_1252_with_a_few_marks_is_read_as_windows_1252(sentence: str) -> None:
    # charset-normalizer read these as Big5-HKSCS, cp852 or mac_iceland: one article saved as
    # UTF-8 and as windows-1252 must be one text
    original = ENGLISH_PROSE + sentence + ENGLISH_TAIL
    assert decode_bytes(original.encode("cp1252")) == (original, "cp1252")


@pytest.mark.parametrize(
    ("original", "codec"),
    [
        (ENGLISH_PROSE + "Toyota’s shares fell. " + ENGLISH_TAIL, "mac-roman"),  # "ToyotaÕs"
        (ENGLISH_PROSE + "Dubai — the hub. " + ENGLISH_TAIL, "big5"),  # "Dubai ¡X the hub"
        (ENGLISH_PROSE + "“Never,” she said. " + ENGLISH_TAIL, "gb18030"),  # "¡°Never,¡± she said"
        (RUSSIAN * 3, "cp1251"),
        (CZECH, "cp1250"),
    ],
    ids=["mac-roman", "big5", "gb18030", "cp1251", "czech-cp1250"],
)
def test_other_code_pages_are_not_taken_for_plain_western_text(original: str, codec: str) -> None:
    assert not is_plain_western(original.encode(codec).decode("cp1252", errors="replace"))


def test_spanish_opening_marks_are_plain_western() -> None:
    assert is_plain_western("¿Será suficiente? " + ENGLISH_PROSE)
    assert not is_plain_western("Dubai ¡X the hub. " + ENGLISH_PROSE)  # never closed by a "!"
    assert not is_plain_western("Dubai¡X the hub! " + ENGLISH_PROSE)  # inside a word


def test_windows_1251_cyrillic() -> None:
    text, encoding = decode_bytes(RUSSIAN.encode("cp1251"))
    assert text == RUSSIAN
    assert encoding.replace("-", "").replace("_", "").lower() in {"cp1251", "windows1251"}


@pytest.mark.parametrize(
    "data",
    [
        bytes.fromhex("89504e470d0a1a0a0000000d494844520000000100000001080600000000"),  # PNG header
        b"\x00\x01\x02\x03\x00\x00text\x00\x00more\x00" * 8,
        b"abc\x00def\x00ghi\x00" * 20,
        bytes(range(256)) * 4,
    ],
    ids=["png-header", "control-bytes", "ascii-with-nuls", "all-bytes"],
)
def test_binary_data_is_undecodable(data: bytes) -> None:
    with pytest.raises(UndecodableError):
        decode_bytes(data)


def test_undecodable_error_is_a_value_error() -> None:
    assert issubclass(UndecodableError, ValueError)


def test_clean_text_unifies_line_endings_and_drops_control_characters() -> None:
    assert clean_text("a\r\nb\rc\x07d\x00e\tf") == "a\nb\ncde\tf"
    # NFC: a decomposed "é" becomes one code point.
    assert clean_text("e\u0301") == "\u00e9"


# --- split_sentences ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "Secretary of State Antony J. Blinken is flying on Tuesday. He will meet officials.",
            ["Secretary of State Antony J. Blinken is flying on Tuesday.", "He will meet officials."],
        ),
        (
            "President Vladimir V. Putin of Russia spoke. Xi listened.",
            ["President Vladimir V. Putin of Russia spoke.", "Xi listened."],
        ),
        (
            "Senior U.S. officials met in Astana. Talks went well.",
            ["Senior U.S. officials met in Astana.", "Talks went well."],
        ),
        (
            "Officials from the U.S. and the E.U. met. The end.",
            ["Officials from the U.S. and the E.U. met.", "The end."],
        ),
        (
            "Mr. Blinken arrived. Mrs. Smith and Dr. Jones left. Gen. Milley spoke.",
            ["Mr. Blinken arrived.", "Mrs. Smith and Dr. Jones left.", "Gen. Milley spoke."],
        ),
        (
            'He said: "We are a reliable partner." Then he left.',
            ['He said: "We are a reliable partner."', "Then he left."],
        ),
        (
            "“Our goal is to show that we are a reliable partner,” Donald Lu said. “We see the difficulties.” Next.",
            [
                "“Our goal is to show that we are a reliable partner,” Donald Lu said.",
                "“We see the difficulties.”",
                "Next.",
            ],
        ),
        ("Is it? Yes! Sure… ok", ["Is it?", "Yes!", "Sure…", "ok"]),
        ("It costs $1.25 billion. Fine.", ["It costs $1.25 billion.", "Fine."]),
        (
            "A heading without a stop\nFirst sentence. Second one.\n\n  \nLast paragraph",
            ["A heading without a stop", "First sentence.", "Second one.", "Last paragraph"],
        ),
        ("", []),
        ("रूस ने बयान जारी किया। अमेरिका ने प्रतिबंध लगाए।", ["रूस ने बयान जारी किया।", "अमेरिका ने प्रतिबंध लगाए।"]),
        ("یہ پہلا جملہ ہے۔ یہ دوسرا ہے۔", ["یہ پہلا جملہ ہے۔", "یہ دوسرا ہے۔"]),  # Urdu full stop
        ("هل هذا سؤال؟ نعم.", ["هل هذا سؤال؟", "نعم."]),  # Arabic question mark
        ("ပထမ။ဒုတိယ။", ["ပထမ။", "ဒုတိယ။"]),  # Burmese, without spaces
    ],
)
def test_split_sentences(text: str, expected: list[str]) -> None:
    assert split_sentences(text) == expected


def test_split_sentences_pieces_are_verbatim_substrings() -> None:
    text = "Mr. Blinken met the U.S. envoy. “It went well,” he said!  Then: nothing more?"
    for sentence in split_sentences(text):
        assert sentence in text


# --- normalization and hashes -------------------------------------------------------------


def test_normalize_for_match_unifies_case_quotes_dashes_and_spaces() -> None:
    assert normalize_for_match("  “Lab–Leak”\u00a0Theory’s\n\tORIGIN — ") == '"lab-leak" theory\'s origin -'


def test_words_are_normalized_tokens() -> None:
    assert words("The U.S. Secretary’s TRIP, to Astana!") == ["the", "u", "s", "secretary", "s", "trip", "to", "astana"]


def test_text_hash_ignores_case_whitespace_and_curly_quotes() -> None:
    a = "Blinken said: “Those words” matter.\nIt’s the heart of Moscow’s sphere."
    b = "blinken  said: \"those words\" matter. it's the heart of moscow's sphere."
    c = "BLINKEN\tSAID:\u00a0‘THOSE WORDS’ MATTER.\r\n\r\nIT'S THE HEART OF MOSCOW’S SPHERE."
    assert text_hash(a) == text_hash(b) == text_hash(c)


def test_text_hash_changes_when_a_word_changes() -> None:
    assert text_hash("Blinken visited Astana on Tuesday.") != text_hash("Blinken visited Tashkent on Tuesday.")
    assert text_hash("a b") != text_hash("ab")


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be"])
def test_utf16_without_bom_is_text(encoding: str) -> None:
    text, found = decode_bytes("Genève, Zürich\nand more".encode(encoding))
    assert text == "Genève, Zürich\nand more" and found == encoding


def test_nul_padded_binary_is_not_mistaken_for_utf16() -> None:
    with pytest.raises(UndecodableError):
        decode_bytes(b"\x89PNG\r\n\x1a\n" + bytes(300))


@pytest.mark.parametrize(
    ("text", "limit", "expected"),
    [
        ("Short  headline\n", 20, "Short headline"),  # on one line, not cut
        ("aaaa bbbb cccc", 10, "aaaa bbbb…"),  # a word ending at the limit is kept
        ("aaaa bbbb cccc", 9, "aaaa…"),
        ("aaaa bbbb, cccc dddd", 13, "aaaa bbbb…"),  # no comma before the ellipsis
        ("ab " + "x" * 30, 10, "ab xxxxxx…"),  # a boundary this early would leave too little
        ("x" * 30, 10, "xxxxxxxxx…"),
    ],
)
def test_shorten_cuts_at_a_word_with_an_ellipsis(text: str, limit: int, expected: str) -> None:
    assert shorten(text, limit) == expected
    assert len(shorten(text, limit)) <= limit


def test_the_traditional_chinese_table_is_opencc_t2s_character_by_character() -> None:
    """opencc 1.4.x's t2s, one character for one: the table the tags depend on (4,572 entries)."""
    from newsmon.text import han_fold

    table = han_fold()
    assert len(table) == 4572 and table[ord("羅")] == "罗" and table[ord("亞")] == "亚"
