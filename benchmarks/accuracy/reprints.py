"""Reprint accuracy per cause of error, on a frozen held-out split, before and after.

Built at run time from ``../shared/data`` (nothing is copied into the project):

* **originals**: the White House documents of 2023 and the 181 gold article texts. The
  *test* split is every White House document of July to December and the gold pages whose
  seeded hash is odd; the *dev* split (the only one looked at while tuning) is January to
  June and the other gold pages. ``split.json`` records the seed, the ids and a SHA-256 of
  the test split; a run whose split differs stops.
* one case set **per cause** (each run through the real store, in time order, batches of
  500, with all originals of the split around it as negatives):

  - ``short_footer``: an article cut to its first 700 to 1,300 characters carrying one
    consent, newsletter or "read more" line (in one of eight languages), reprinted by another
    site with another such line;
  - ``truncated``: a copy cut to 10 to 40 % of its words (at least 40), half with a new headline;
  - ``noisy``: the whole text with 5 to 12 % OCR-style character noise (per letter or digit);
  - ``truncated_noisy``: cut to 15 to 50 % (at least 40 words) with 4 to 10 % noise;
  - ``noisy_heavy``: the whole text with 12 to 20 % noise; ``truncated_noisy_heavy``: cut to
    10 to 30 % (at least 30 words) with 8 to 14 % noise;
  - ``junk``: multilingual paywalls, consent walls, bot checks and error pages (composed from
    line pools in 13 languages, seeded), each posted by two to four unrelated sites under a
    stock title or a real headline; any merge is an error (``merged junk`` counts them);
  - ``runon``: plain-text files ingested from disk whose headline runs into the first
    paragraph on one line (sometimes the whole text on one line), against a well-formed copy.

Scores: pairwise precision, recall and F1 over all documents of the run, with 95 % intervals
from a bootstrap over gold stories (1,000 resamples). ``--baseline-rev REV`` runs this same
harness in a temporary git worktree of REV (the previous release) and stores its figures in
``baseline.json``; the table prints them beside the current code's.

    python -m benchmarks.accuracy.reprints [--split test|dev] [--cases 300] [--baseline-rev 1d689d7]
                                           [--causes short_footer,noisy] [--json FILE]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path

os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from benchmarks.dedupe import (  # noqa: E402
    DATA,
    NOW,
    Original,
    file_document,
    load_originals,
    ocr_noise,
    original_gold,
    rewrite_headline,
    run_newsmon,
    truncate,
)
from newsmon.documents import read_document  # noqa: E402
from newsmon.extract import classify_page  # noqa: E402
from newsmon.models import Document  # noqa: E402

SPLIT_FILE = HERE / "split.json"
BASELINE_FILE = HERE / "baseline.json"
SEED = 20261206
CAUSES = (
    "short_footer",
    "truncated",
    "noisy",
    "truncated_noisy",
    "noisy_heavy",
    "truncated_noisy_heavy",
    "junk",
    "runon",
)
BOOTSTRAP = 1000

# -- the split ------------------------------------------------------------------------------------


def _gold_in_test(key: str) -> bool:
    return int(hashlib.sha256(f"{SEED}:{key}".encode()).hexdigest(), 16) % 2 == 1


def in_test_split(original: Original) -> bool:
    """White House documents of July to December, and half the gold pages (seeded hash)."""
    if original.key.startswith("w"):
        return original.at.month >= 7
    return _gold_in_test(original.key)


def split_originals(originals: Sequence[Original], split: str) -> list[Original]:
    """The originals of one split, in their load order."""
    return [o for o in originals if in_test_split(o) == (split == "test")]


def split_record(originals: Sequence[Original]) -> dict:
    """The test split as it is recorded: seed, rule, ids and a SHA-256 of the ids and texts."""
    test = split_originals(originals, "test")
    digest = hashlib.sha256()
    for o in test:
        digest.update(f"{o.key}\n{o.title}\n{o.body}\n".encode())
    return {
        "seed": SEED,
        "rule": "whitehouse.gov documents dated 2023-07..2023-12; gold pages whose sha256(seed:id) is odd",
        "cases_seed": "random.Random(f'{seed}:{split}:{cause}')",
        "count": len(test),
        "sha256": digest.hexdigest(),
        "ids": [o.key for o in test],
    }


def check_split(originals: Sequence[Original]) -> None:
    """Stop when the data gives another test split than the one recorded."""
    record = split_record(originals)
    if not SPLIT_FILE.exists():
        SPLIT_FILE.write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
        print(f"recorded the test split in {SPLIT_FILE} ({record['count']} originals)")
        return
    frozen = json.loads(SPLIT_FILE.read_text(encoding="utf-8"))
    if frozen["sha256"] != record["sha256"]:
        raise SystemExit(f"the test split differs from {SPLIT_FILE.name}: the data or the rule changed")


# -- case sets ------------------------------------------------------------------------------------

FOOTERS = [
    "We use cookies to give you the best experience. By continuing you accept our cookie policy.",
    "Get the day's top headlines in your inbox: sign up for our free newsletter.",
    "Read more: subscribe to continue reading our in-depth coverage.",
    "Diese Website verwendet Cookies. Mit der Nutzung stimmen Sie der Datenschutzerklärung zu.",
    "Ce site utilise des cookies. En poursuivant, vous acceptez notre politique de confidentialité.",
    "Este sitio web utiliza cookies. Al continuar navegando, acepta nuestra política de cookies.",
    "Questo sito utilizza cookie. Continuando accetti l'informativa sulla privacy.",
    "Este site utiliza cookies. Ao continuar, concorda com a nossa política de privacidade.",
    "Продолжая использовать сайт, вы соглашаетесь с политикой конфиденциальности и файлы cookie.",
    "Sitemizde çerezler kullanılmaktadır. Detaylar için çerez politikası sayfamızı inceleyin.",
    "Already a subscriber? Sign in for unlimited digital access.",
    "Share this article: Facebook | X | Email",
]

# junk pages: lines per language and kind, composed at random (handmade, not the test fixtures)
_JUNK_LINES: dict[str, dict[str, list[str]]] = {
    "cookie-wall": {
        "en": ["This website uses cookies", "We and our partners use cookies to personalise ads and measure traffic.",
               "Accept all", "Reject all", "Manage preferences", "Privacy policy"],
        "de": ["Datenschutzeinstellungen", "Wir nutzen Cookies, um Inhalte zu personalisieren.",
               "Alle akzeptieren", "Alle ablehnen", "Einwilligung verwalten", "Impressum"],
        "fr": ["Gestion des cookies", "Nous et nos partenaires utilisons des traceurs.", "Tout accepter",
               "Tout refuser", "Continuer sans accepter", "Mentions légales"],
        "es": ["Aviso de cookies", "Usamos cookies propias y de terceros.", "Aceptar todas", "Rechazar todas",
               "Configuración de cookies", "Aviso legal"],
        "it": ["Questo sito utilizza cookie", "Noi e i nostri partner trattiamo dati personali.", "Accetta tutti",
               "Rifiuta tutti", "Personalizza", "Informativa sulla privacy"],
        "pt": ["Este site utiliza cookies", "Usamos cookies para melhorar a sua experiência.", "Aceitar todos",
               "Rejeitar todos", "Definições de cookies", "Política de privacidade"],
        "pl": ["Ta strona używa plików cookie", "My i nasi partnerzy przetwarzamy dane osobowe.",
               "Zaakceptuj wszystkie", "Odrzuć wszystkie", "Ustawienia", "Polityka prywatności"],
        "ru": ["Этот сайт использует файлы cookie", "Мы используем файлы cookie для улучшения работы сайта.",
               "Принять все", "Отклонить все", "Настройки", "Политика конфиденциальности"],
        "uk": ["Цей сайт використовує файли cookie", "Ми використовуємо файли cookie для аналітики.",
               "Прийняти все", "Відхилити все", "Налаштування", "Політика конфіденційності"],
        "tr": ["Çerez tercihleri", "Size daha iyi hizmet için çerezler kullanıyoruz.", "Tümünü kabul et",
               "Tümünü reddet", "Çerez ayarları", "KVKK aydınlatma metni"],
        "ar": ["إشعار ملفات تعريف الارتباط", "نستخدم ملفات تعريف الارتباط لتحسين تجربتك.", "قبول الكل",
               "رفض الكل", "الإعدادات", "سياسة الخصوصية"],
        "zh": ["Cookie 通知", "我们使用 Cookie 来改善您的体验。", "全部接受", "拒绝所有", "Cookie 设置", "隐私政策"],
        "ja": ["Cookieについて", "当サイトはCookieを使用しています。", "すべて受け入れる", "すべて拒否", "Cookie設定",
               "プライバシーポリシー"],
    },
    "bot-check": {
        "en": ["Just a moment...", "Verifying you are human. This may take a few seconds.",
               "Please enable JavaScript and cookies to continue", "Ray ID: 8a1c2f"],
        "de": ["Einen Moment bitte", "Wir prüfen, ob Sie ein Roboter sind.", "Bitte aktivieren Sie JavaScript."],
        "fr": ["Un instant", "Vérification de votre navigateur en cours.", "Je ne suis pas un robot"],
        "es": ["Un momento", "Comprobando tu navegador antes de acceder.", "No soy un robot"],
        "it": ["Un momento", "Controllo del browser in corso.", "Non sono un robot"],
        "pt": ["Um momento", "Verificando o seu navegador antes de aceder.", "Não sou um robô"],
        "pl": ["Chwileczkę", "Sprawdzanie przeglądarki przed wejściem.", "Nie jestem robotem"],
        "ru": ["Секундочку", "Проверяем ваш браузер перед входом на сайт.", "Я не робот"],
        "uk": ["Зачекайте", "Перевірка браузера перед входом.", "Підтвердіть, що ви людина"],
        "tr": ["Bir dakika", "Tarayıcınız kontrol ediliyor.", "Robot değilim"],
        "ar": ["لحظة من فضلك", "جارٍ التحقق من المتصفح.", "هل أنت روبوت؟"],
        "zh": ["请稍候", "正在检查您的浏览器。", "安全验证"],
        "ja": ["お待ちください", "ブラウザを確認しています。", "ロボットではありません"],
    },
    "error-page": {
        "en": ["Oops!", "We can't find the page you are looking for.", "Error 404", "Back to homepage"],
        "de": ["Hoppla!", "Die angeforderte Seite wurde nicht gefunden.", "Fehler 404", "Startseite"],
        "fr": ["Oups !", "La page demandée est introuvable.", "Erreur 404", "Accueil"],
        "es": ["¡Vaya!", "Página no encontrada.", "Error 404", "Inicio"],
        "it": ["Ops!", "Pagina non trovata.", "Errore 404", "Home"],
        "pt": ["Ops!", "Página não encontrada.", "Erro 404", "Início"],
        "pl": ["Ups!", "Nie znaleziono strony.", "Błąd 404", "Strona główna"],
        "ru": ["Упс!", "Страница не найдена.", "Ошибка 404", "На главную"],
        "uk": ["Ой!", "Сторінку не знайдено.", "Помилка 404", "На головну"],
        "tr": ["Hay aksi!", "Sayfa bulunamadı.", "Hata 404", "Ana sayfa"],
        "ar": ["عذراً!", "الصفحة غير موجودة.", "خطأ 404", "الرئيسية"],
        "zh": ["糟糕！", "页面未找到。", "404错误", "首页"],
        "ja": ["申し訳ありません", "ページが見つかりません。", "404エラー", "トップページ"],
    },
    "paywall": {
        "en": ["Premium", "This story is available to subscribers only.", "Subscribe now", "Sign in"],
        "de": ["Plus", "Dieser Artikel ist nur für Abonnenten.", "Jetzt abonnieren", "Anmelden"],
        "fr": ["Abonnés", "Cet article est réservé aux abonnés.", "S'abonner", "Se connecter"],
        "es": ["Premium", "Contenido exclusivo para suscriptores.", "Suscríbete", "Iniciar sesión"],
        "it": ["Premium", "Contenuto riservato agli abbonati.", "Abbonati", "Accedi"],
        "pt": ["Exclusivo", "Conteúdo exclusivo para assinantes.", "Assine já", "Entrar"],
        "pl": ["Premium", "Treść premium tylko dla subskrybentów.", "Subskrybuj", "Zaloguj się"],
        "ru": ["Премиум", "Материал доступен только для подписчиков.", "Подписаться", "Войти"],
        "uk": ["Преміум", "Матеріал лише для передплатників.", "Передплатити", "Увійти"],
        "tr": ["Premium", "Bu içerik abonelere özel.", "Abone olun", "Giriş yap"],
        "ar": ["مميز", "هذا المحتوى للمشتركين فقط.", "اشترك الآن", "تسجيل الدخول"],
        "zh": ["会员", "本文为付费阅读内容。", "立即订阅", "登录"],
        "ja": ["会員限定", "この記事は有料会員限定です。", "購読する", "ログイン"],
    },
}  # fmt: skip
_CHROME = ["Home", "News", "Sport", "Contact", "© 2023", "Menu", "Search", "Terms"]
_STOCK_TITLES = ["Just a moment...", "Page not found", "Access denied", "Attention Required!", "Subscribe", "Home"]


@dataclass(slots=True)
class CaseSet:
    """Documents of one cause with the split's originals around them, and gold stories."""

    cause: str
    documents: list[Document]
    gold: dict[str, str]
    focus: set[str]  # the documents of this cause
    junk: set[str]
    ingest_s: float = 0.0


def _site(rng: random.Random, prefix: str) -> str:
    return f"{prefix}-{rng.randint(1, 60)}.example.com"


def _lag(rng: random.Random) -> timedelta:
    return timedelta(minutes=rng.uniform(10, 72 * 60))


def _short_text(original: Original, rng: random.Random) -> str | None:
    goal = rng.randint(700, 1300)
    out, n = [], 0
    for paragraph in (p for p in original.body.split("\n") if p.strip()):
        if n >= goal:
            break
        out.append(paragraph)
        n += len(paragraph)
    text = "\n".join(out)
    return text if 600 <= len(text) <= 1800 else None


def _doc(key: str, title: str, body: str, site: str, at: object, cause: str) -> Document:
    return file_document(key, title, body, site, f"https://{site}/{cause}/{key}", at)  # type: ignore[arg-type]


def build_cases(originals: Sequence[Original], cause: str, split: str, cases: int) -> CaseSet:
    """The case set of one cause on one split (seeded by split and cause)."""
    rng = random.Random(f"{SEED}:{split}:{cause}")
    gold_of = original_gold(originals)
    eligible = [o for o in originals if len(o.body.split()) >= 150]
    picked = rng.sample(eligible, min(cases, len(eligible)))
    background = list(originals)
    if cause in ("short_footer", "runon"):
        taken = {o.key for o in picked}
        background = [o for o in originals if o.key not in taken]  # their full texts would be gold too
    started = time.perf_counter()
    docs = [file_document(o.key, o.title, o.body, o.source, o.url, o.at) for o in background]
    gold = {d.id: gold_of[o.key] for d, o in zip(docs, background, strict=True)}
    focus: set[str] = set()
    junk: set[str] = set()

    def add(doc: Document, story: str) -> None:
        docs.append(doc)
        gold[doc.id] = story
        focus.add(doc.id)

    if cause == "short_footer":
        for o in picked:
            text = _short_text(o, rng)
            if text is None:
                continue
            first, second = rng.sample(FOOTERS, 2)
            story = gold_of[o.key]  # one text posted twice by the source is one story
            add(_doc(f"{o.key}-a", o.title, f"{text}\n{first}", _site(rng, "short"), o.at, cause), story)
            title = o.title if rng.random() < 0.5 else rewrite_headline(o.title, text.split("\n"), rng)
            add(_doc(f"{o.key}-b", title, f"{text}\n{second}", _site(rng, "short"), o.at + _lag(rng), cause), story)
    elif cause in ("truncated", "noisy", "truncated_noisy", "noisy_heavy", "truncated_noisy_heavy"):
        for o in picked:
            paragraphs = [p for p in o.body.split("\n") if p.strip()]
            title = o.title
            if cause == "truncated":
                paragraphs = truncate(paragraphs, rng.uniform(0.1, 0.4), 40)
                if rng.random() < 0.5:
                    title = rewrite_headline(o.title, paragraphs, rng)
            elif cause in ("noisy", "noisy_heavy"):
                rate = rng.uniform(0.05, 0.12) if cause == "noisy" else rng.uniform(0.12, 0.2)
                title, paragraphs = ocr_noise(o.title, rate, rng), [ocr_noise(p, rate, rng) for p in paragraphs]
            elif cause == "truncated_noisy_heavy":
                rate = rng.uniform(0.08, 0.14)
                cut = truncate(paragraphs, rng.uniform(0.1, 0.3), 30)
                title, paragraphs = ocr_noise(o.title, rate, rng), [ocr_noise(p, rate, rng) for p in cut]
            else:
                rate = rng.uniform(0.04, 0.10)
                cut = truncate(paragraphs, rng.uniform(0.15, 0.5), 40)
                title, paragraphs = ocr_noise(o.title, rate, rng), [ocr_noise(p, rate, rng) for p in cut]
            key = f"{o.key}-{cause}"
            add(_doc(key, title, "\n".join(paragraphs), _site(rng, "copy"), o.at + _lag(rng), cause), gold_of[o.key])
            focus.add(next(d.id for d in docs if d.url == o.url))
    elif cause == "junk":
        for i, o in enumerate(picked[: max(1, cases // 3)]):
            kind = rng.choice(sorted(_JUNK_LINES))
            lang = rng.choice(sorted(_JUNK_LINES[kind]))
            pool = _JUNK_LINES[kind][lang]
            lines = rng.sample(pool, rng.randint(max(2, len(pool) - 2), len(pool)))
            text = "\n".join(rng.sample(_CHROME, rng.randint(0, 4)) + lines + rng.sample(_CHROME, rng.randint(0, 3)))
            title = o.title if rng.random() < 0.4 else rng.choice(_STOCK_TITLES)
            for copy in range(rng.randint(2, 4)):
                site = f"junk-{rng.randint(1, 500)}.example.org"
                doc = _doc(f"junk{i}-{copy}", title, text, site, o.at + _lag(rng), cause)
                doc = replace(doc, extraction="article", page_kind=classify_page(text))
                add(doc, f"junk:{doc.id}")
                junk.add(doc.id)
    elif cause == "runon":
        with tempfile.TemporaryDirectory() as tmp:
            for o in picked:
                paragraphs = [p for p in o.body.split("\n") if p.strip()][:6]
                if len(paragraphs) < 2:
                    continue
                proper = o.title + "\n\n" + "\n".join(paragraphs) + "\n"
                if rng.random() < 0.3:
                    runon = o.title + " " + " ".join(paragraphs) + "\n"  # the whole text on one line
                else:
                    runon = o.title + " " + paragraphs[0] + "\n" + "\n".join(paragraphs[1:]) + "\n"
                order = [proper, runon] if rng.random() < 0.5 else [runon, proper]
                for n, text in enumerate(order):
                    path = Path(tmp) / f"{o.key}-{n}.txt"
                    path.write_text(text, encoding="utf-8")
                    doc = read_document(path, NOW, "files")
                    url = f"https://{_site(rng, 'plain')}/runon/{o.key}-{n}"
                    doc = replace(doc, id=hashlib.sha256(url.encode()).hexdigest()[:20], url=url,
                                  published_at=o.at + (_lag(rng) if n else timedelta(0)))  # fmt: skip
                    add(doc, gold_of[o.key])  # a truncation of the original (and of any twin it has)
    return CaseSet(cause, docs, gold, focus, junk, time.perf_counter() - started)


# -- scores ---------------------------------------------------------------------------------------


@dataclass(slots=True)
class Scores:
    """Pairwise precision, recall and F1 with bootstrap intervals, and what was counted."""

    precision: float
    recall: float
    f1: float
    intervals: dict[str, tuple[float, float]]
    gold_pairs: int
    predicted_pairs: int
    merged_junk: int
    documents: int
    seconds_per_1000: float
    ingest_s_per_1000: float


def _pairs(n: int) -> int:
    return n * (n - 1) // 2


def per_story_counts(
    predicted: Mapping[str, str], gold: Mapping[str, str], only: set[str] | None = None
) -> tuple[list[str], np.ndarray]:
    """Per gold story: (true pairs found, gold pairs, false pairs charged to it), over the
    documents in ``only`` (all if None). A false pair (two documents of different gold stories
    put together) is charged to the smaller gold id."""
    cells: dict[tuple[str, str], int] = defaultdict(int)
    for doc, story in predicted.items():
        if only is None or doc in only:
            cells[(story, gold[doc])] += 1
    by_pred: dict[str, list[tuple[str, int]]] = defaultdict(list)
    for (story, g), n in cells.items():
        by_pred[story].append((g, n))
    sizes: dict[str, int] = defaultdict(int)
    for doc, g in gold.items():
        sizes[g] += 1 if only is None or doc in only else 0
    stories = sorted(gold.values())
    stories = sorted(set(stories))
    index = {g: i for i, g in enumerate(stories)}
    counts = np.zeros((len(stories), 3), dtype=np.int64)
    for g, size in sizes.items():
        counts[index[g], 1] = _pairs(size)
    for members in by_pred.values():
        members.sort()
        for i, (g, n) in enumerate(members):
            counts[index[g], 0] += _pairs(n)
            for g2, n2 in members[i + 1 :]:
                counts[index[min(g, g2)], 2] += n * n2
    return stories, counts


def _prf(tp: float, gold: float, fp: float) -> tuple[float, float, float]:
    p = tp / (tp + fp) if tp + fp else 1.0
    r = tp / gold if gold else 1.0
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


def score(predicted: Mapping[str, str], cases: CaseSet, seconds: float) -> Scores:
    """Scores of one run over the pairs that involve at least one document of the cause (all
    pairs less the pairs among the other documents), intervals from a bootstrap over gold
    stories (seeded)."""
    _, every = per_story_counts(predicted, cases.gold)
    _, others = per_story_counts(predicted, cases.gold, set(cases.gold) - cases.focus)
    counts = every - others
    tp, gold_pairs, fp = counts.sum(axis=0)
    p, r, f = _prf(tp, gold_pairs, fp)
    rng = np.random.default_rng(SEED)
    samples = counts[rng.integers(0, len(counts), size=(BOOTSTRAP, len(counts)))].sum(axis=1)
    stats = np.array([_prf(*row) for row in samples])
    low, high = np.percentile(stats, 2.5, axis=0), np.percentile(stats, 97.5, axis=0)
    intervals = {name: (float(low[i]), float(high[i])) for i, name in enumerate(("precision", "recall", "f1"))}
    size: dict[str, int] = defaultdict(int)
    for story in predicted.values():
        size[story] += 1
    merged = sum(1 for d in cases.junk if size[predicted[d]] > 1)
    n = len(cases.documents)
    return Scores(
        p, r, f, intervals, int(gold_pairs), int(tp + fp), merged, n, 1000 * seconds / n, 1000 * cases.ingest_s / n
    )


def show_errors(predicted: Mapping[str, str], cases: CaseSet, limit: int = 8) -> None:
    """Print some missed and some false pairs of the cause's documents (for the dev split)."""
    by_id = {d.id: d for d in cases.documents}
    members: dict[str, list[str]] = defaultdict(list)
    for doc, story in predicted.items():
        members[story].append(doc)
    gold_members: dict[str, list[str]] = defaultdict(list)
    for doc, g in cases.gold.items():
        gold_members[g].append(doc)
    shown = 0
    for doc in sorted(cases.focus):
        for other in gold_members[cases.gold[doc]]:
            if other != doc and predicted[other] != predicted[doc] and shown < limit:
                shown += 1
                a, b = by_id[doc], by_id[other]
                print(f"    missed: {a.title[:60]!r} ({len(a.body)} chars) / {b.title[:60]!r} ({len(b.body)} chars)")
        for other in members[predicted[doc]]:
            if other != doc and cases.gold[other] != cases.gold[doc] and shown < 2 * limit:
                shown += 1
                a, b = by_id[doc], by_id[other]
                print(f"    false: {a.title[:60]!r} {a.body[:80]!r} / {b.title[:60]!r} {b.body[:80]!r}")


# -- running --------------------------------------------------------------------------------------


def evaluate(split: str, causes: Sequence[str], cases: int) -> dict[str, dict]:
    """Build each cause's set on ``split``, run dedupe through the store, and score it."""
    originals = load_originals()
    if split == "test":
        check_split(originals)
    chosen = split_originals(originals, split)
    out = {}
    for cause in causes:
        case_set = build_cases(chosen, cause, split, cases)
        with tempfile.TemporaryDirectory() as tmp:
            started = time.perf_counter()
            predicted = run_newsmon(case_set.documents, Path(tmp) / "accuracy.duckdb")
            seconds = time.perf_counter() - started
        s = score(predicted, case_set, seconds)
        if os.environ.get("ACCURACY_SHOW"):
            show_errors(predicted, case_set)
        out[cause] = {
            "precision": s.precision, "recall": s.recall, "f1": s.f1, "intervals": s.intervals,
            "gold_pairs": s.gold_pairs, "predicted_pairs": s.predicted_pairs, "merged_junk": s.merged_junk,
            "junk_pages": len(case_set.junk), "documents": s.documents, "cases": len(case_set.focus),
            "dedupe_ms_per_doc": s.seconds_per_1000, "ingest_ms_per_doc": s.ingest_s_per_1000,
        }  # fmt: skip
        print(f"  {cause}: {len(case_set.focus)} cases in {s.documents} documents, {seconds:.1f} s", flush=True)
    return out


def run_baseline(rev: str, split: str, causes: Sequence[str], cases: int) -> dict:
    """This harness run on ``rev`` in a temporary git worktree (its newsmon, this harness)."""
    repo = ROOT
    commit = subprocess.run(
        ["git", "-C", str(repo), "rev-parse", rev], check=True, capture_output=True, text=True
    ).stdout.strip()
    with tempfile.TemporaryDirectory() as tmp:
        tree = repo.parent / f".accuracy-baseline-{commit[:7]}-{os.getpid()}"  # beside the checkout: ../shared
        subprocess.run(["git", "-C", str(repo), "worktree", "add", "--detach", str(tree), commit], check=True,
                       capture_output=True)  # fmt: skip
        try:
            target = tree / "benchmarks" / "accuracy"
            target.mkdir(parents=True, exist_ok=True)
            for name in ("__init__.py", "reprints.py", "split.json"):
                if (HERE / name).exists():
                    shutil.copy2(HERE / name, target / name)
            out = Path(tmp) / "figures.json"
            args = [sys.executable, "-m", "benchmarks.accuracy.reprints", "--split", split, "--cases", str(cases),
                    "--causes", ",".join(causes), "--json", str(out), "--no-baseline"]  # fmt: skip
            env = {**os.environ, "PYTHONPATH": str(tree)}
            subprocess.run(args, check=True, cwd=tree, env=env)
            figures = json.loads(out.read_text(encoding="utf-8"))
        finally:
            subprocess.run(["git", "-C", str(repo), "worktree", "remove", "--force", str(tree)], check=False)
    return {"commit": commit, "split": split, "cases": cases, "figures": figures}


def _fmt(value: float, interval: Sequence[float]) -> str:
    return f"{value:.3f} [{interval[0]:.3f}-{interval[1]:.3f}]"


def print_table(after: Mapping[str, dict], before: Mapping[str, dict] | None, label: str) -> None:
    """Per cause: precision, recall and F1 with intervals, merged junk, before and after."""
    print(f"\nreprints per cause, {label} (pairwise; 95 % bootstrap intervals over gold stories)")
    head = f"{'cause':<16} {'':<6} {'precision':<22} {'recall':<22} {'F1':<22} {'junk merged':>11} {'ms/doc':>7}"
    print(head)
    for cause, a in after.items():
        rows = ([("before", before[cause])] if before and cause in before else []) + [("after", a)]
        for name, f in rows:
            junk = f"{f['merged_junk']}/{f['junk_pages']}" if f["junk_pages"] else "-"
            print(
                f"{cause:<16} {name:<6} {_fmt(f['precision'], f['intervals']['precision']):<22} "
                f"{_fmt(f['recall'], f['intervals']['recall']):<22} {_fmt(f['f1'], f['intervals']['f1']):<22} "
                f"{junk:>11} {f['dedupe_ms_per_doc']:>7.2f}"
            )
    docs = sum(f["documents"] for f in after.values())
    for name, figures in (("before", before), ("after", after)):
        if figures:
            sub = [figures[c] for c in after if c in figures]
            ing = sum(f["ingest_ms_per_doc"] * f["documents"] for f in sub) / max(1, sum(f["documents"] for f in sub))
            ded = sum(f["dedupe_ms_per_doc"] * f["documents"] for f in sub) / max(1, sum(f["documents"] for f in sub))
            print(f"cost {name}: ingest {ing * 1000 / 1000:.0f} ms + dedupe/store {ded:.0f} ms per 1000 documents"
                  if False else f"cost {name}: ingest {ing:.3f} s + dedupe/store {ded:.3f} s per 1000 documents"
                  f" ({docs} documents)")  # fmt: skip


def main(argv: Sequence[str] | None = None) -> int:
    """Evaluate, and print the table beside the recorded baseline."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.accuracy.reprints", description=__doc__.split("\n")[0])
    parser.add_argument("--split", choices=("test", "dev"), default="test")
    parser.add_argument("--cases", type=int, default=300, help="originals drawn per cause (default 300)")
    parser.add_argument("--causes", default=",".join(CAUSES))
    parser.add_argument("--baseline-rev", help="measure this commit in a temporary worktree and record it")
    parser.add_argument("--no-baseline", action="store_true", help="do not print the recorded baseline")
    parser.add_argument("--json", type=Path, help="write the figures here")
    args = parser.parse_args(list(argv) if argv is not None else None)
    if not DATA.is_dir():
        print(f"reprints: skipped: {DATA} is absent (the shared data folder beside the checkout)")
        return 0
    causes = [c for c in args.causes.split(",") if c]
    unknown = set(causes) - set(CAUSES)
    if unknown:
        parser.error(f"unknown causes: {', '.join(sorted(unknown))}")
    baseline: dict | None = None
    if args.baseline_rev:
        print(f"baseline: {args.baseline_rev} in a temporary worktree", flush=True)
        baseline = run_baseline(args.baseline_rev, args.split, causes, args.cases)
        if args.split == "test":
            BASELINE_FILE.write_text(json.dumps(baseline, indent=1) + "\n", encoding="utf-8")
    elif not args.no_baseline and BASELINE_FILE.exists():
        baseline = json.loads(BASELINE_FILE.read_text(encoding="utf-8"))
        if baseline.get("split") != args.split or baseline.get("cases") != args.cases:
            baseline = None
    print(f"current code, {args.split} split", flush=True)
    after = evaluate(args.split, causes, args.cases)
    if args.json:
        args.json.write_text(json.dumps(after, indent=1) + "\n", encoding="utf-8")
    label = f"{args.split} split" + (f", before = {baseline['commit'][:7]}" if baseline else "")
    print_table(after, baseline["figures"] if baseline else None, label)
    return 0


if __name__ == "__main__":
    sys.exit(main())
