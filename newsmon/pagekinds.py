"""What kind of page a text is: an article, or a wall, an error page or junk, in any language.

The decision rests first on the page's *shape*: an article is running prose (several sentences
of several words), while a paywall, cookie wall, bot check or error page is a few short
lines (buttons, links, one or two notices) around a notice. Cue phrases in 13 languages (en,
de, fr, es, it, pt, pl, ru, uk, tr, ar, zh, ja: :data:`CUES`) say *which* kind of notice a
sentence is; they decide the kind only when the prose outside the cue sentences is too thin to
be an article. So a short article that carries one consent, newsletter or "read more" line is
still an article, and a long article that mentions cookies or a captcha is too.

* :func:`classify_page`: ``article``, ``paywall``, ``cookie-wall``, ``bot-check``,
  ``error-page`` or ``not-article`` (too little text, or no prose at all: link lists, menus).
* :func:`junk_kind`: the kind when the text is a page that must never form or join a story
  (dedupe treats it as ``boilerplate``), else None.

Everything is plain string work on the extracted text: about 20 to 100 µs a page.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass
from typing import Final

from newsmon.text import APOSTROPHE_FOLD, TYPOGRAPHIC_FOLD, replace_chars

# -- cue phrases (matched case-folded, whitespace collapsed, inside one sentence) ---------------

_PAYWALL: Final = (
    # en
    "subscribe to continue reading", "subscribe to read", "to continue reading", "subscribers only",
    "for subscribers", "already a subscriber", "sign in to read", "create a free account to continue",
    "this article is for subscribers", "unlock this article", "start your subscription", "free articles",
    "unlimited digital access", "subscribe now", "log in to keep reading",
    # de
    "nur für abonnenten", "jetzt abonnieren", "bereits abonnent", "abo abschließen", "zum weiterlesen",
    "weiterlesen mit", "digitalabo", "plus-artikel", "jetzt testen für",
    # fr
    "réservé aux abonnés", "abonnez-vous", "déjà abonné", "pour lire la suite", "cet article est réservé",
    "offre d'abonnement",
    # es
    "solo para suscriptores", "exclusivo para suscriptores", "suscríbete", "ya eres suscriptor",
    "para seguir leyendo", "para continuar leyendo",
    # it
    "riservato agli abbonati", "sei già abbonato", "per continuare a leggere", "contenuto riservato",
    "abbonati per",
    # pt
    "exclusivo para assinantes", "já é assinante", "para continuar lendo", "para continuar a ler", "assine já",
    "assine agora",
    # pl
    "tylko dla subskrybentów", "wykup subskrypcję", "aby czytać dalej", "masz już subskrypcję",
    "treść premium", "dostęp premium",
    # ru
    "только для подписчиков", "оформите подписку", "чтобы продолжить чтение", "доступно подписчикам",
    "платный контент", "уже подписаны",
    # uk
    "лише для передплатників", "тільки для передплатників", "оформіть передплату", "щоб продовжити читання",
    "вже маєте передплату",
    # tr
    "abonelere özel", "abone olun", "okumaya devam etmek için", "zaten abone misiniz", "aboneliğinizi başlatın",
    # ar
    "للمشتركين فقط", "اشترك الآن", "لمواصلة القراءة", "هل أنت مشترك",
    # zh
    "订阅后阅读", "仅限订阅用户", "订阅用户专享", "立即订阅", "付费阅读", "訂閱後閱讀",
    # ja
    "有料会員限定", "この記事は有料会員", "続きを読むには", "有料会員になる", "会員限定記事",
)  # fmt: skip

_COOKIE_WALL: Final = (
    # en (and the word itself, which many languages borrow)
    "we use cookies", "accept all cookies", "accept cookies", "cookie settings", "manage consent", "cookie policy",
    "your privacy choices", "uses cookies", "reject all", "accept all", "manage preferences", "privacy settings",
    "we and our partners", "legitimate interest", "this site uses cookies", "cookie preferences",
    # de
    "wir verwenden cookies", "cookies akzeptieren", "alle akzeptieren", "alle ablehnen", "cookie-einstellungen",
    "einwilligung", "datenschutzeinstellungen", "wir und unsere partner", "personenbezogene daten",
    "berechtigtes interesse", "datenschutzerklärung", "zustimmen und weiter",
    # fr
    "nous utilisons des cookies", "accepter les cookies", "tout accepter", "tout refuser", "paramètres des cookies",
    "gérer mes choix", "consentement", "nous et nos partenaires", "continuer sans accepter",
    "politique de confidentialité",
    # es
    "utilizamos cookies", "usamos cookies", "aceptar todas", "aceptar cookies", "rechazar todas",
    "configuración de cookies", "consentimiento", "política de cookies", "nosotros y nuestros socios",
    # it
    "utilizziamo i cookie", "utilizza cookie", "accetta tutti", "rifiuta tutti", "impostazioni dei cookie",
    "consenso", "noi e i nostri partner", "informativa sulla privacy",
    # pt
    "utilizamos cookies", "aceitar todos", "aceitar cookies", "rejeitar todos", "definições de cookies",
    "configurações de cookies", "consentimento", "política de cookies", "nós e os nossos parceiros",
    "política de privacidade",
    # pl
    "używamy plików cookie", "plików cookie", "pliki cookie", "zaakceptuj wszystkie", "akceptuję",
    "odrzuć wszystkie", "polityka prywatności", "my i nasi partnerzy", "wyrażam zgodę",
    # ru
    "мы используем файлы cookie", "файлы cookie", "файлов cookie", "принять все", "отклонить все",
    "согласие на обработку", "политика конфиденциальности", "политикой конфиденциальности",
    # uk
    "ми використовуємо файли cookie", "прийняти все", "відхилити все", "згоду на обробку",
    "політика конфіденційності", "політикою конфіденційності",
    # tr
    "çerez kullanıyoruz", "çerezler", "çerezleri kabul et", "tümünü kabul et", "tümünü reddet", "çerez ayarları",
    "çerez politikası", "aydınlatma metni",
    # ar
    "ملفات تعريف الارتباط", "قبول الكل", "رفض الكل", "سياسة الخصوصية", "موافقتك",
    # zh
    "使用cookie", "使用 cookie", "cookie设置", "接受所有", "全部接受", "拒绝所有", "隐私政策", "隱私權政策",
    # ja
    "クッキーを使用", "cookieを使用", "すべて受け入れる", "すべて拒否", "クッキー設定", "cookie設定",
    "プライバシーポリシー",
)  # fmt: skip

_BOT_CHECK: Final = (
    # en
    "are you a robot", "verify you are human", "verify you are a human", "captcha", "checking your browser",
    "access denied", "enable javascript", "please enable cookies", "unusual traffic", "request blocked",
    "not a robot", "verifying you are human", "security of your connection", "press and hold",
    "ddos protection", "attention required", "ray id",
    # de
    "ein roboter", "kein roboter", "überprüfung ihres browsers", "javascript aktivieren", "aktivieren sie javascript",
    "zugriff verweigert", "ungewöhnlichen datenverkehr", "sicherheitsüberprüfung",
    # fr
    "êtes-vous un robot", "pas un robot", "vérification de votre navigateur", "activer javascript",
    "activez javascript", "accès refusé", "trafic inhabituel", "vérification de sécurité",
    "que vous êtes humain",
    # es
    "eres un robot", "no soy un robot", "comprobando tu navegador", "verificando su navegador",
    "habilita javascript", "activa javascript", "acceso denegado", "tráfico inusual", "verificación de seguridad",
    "que eres humano",
    # it
    "sei un robot", "non sono un robot", "verifica del browser", "controllo del browser", "abilita javascript",
    "attiva javascript", "accesso negato", "traffico insolito", "verifica di sicurezza", "di essere umano",
    # pt
    "é um robô", "não sou um robô", "verificando seu navegador", "verificando o seu navegador",
    "ative o javascript", "habilite o javascript", "acesso negado", "tráfego incomum", "tráfego invulgar",
    "verificação de segurança",
    # pl
    "jesteś robotem", "nie jestem robotem", "sprawdzanie przeglądarki", "włącz javascript", "odmowa dostępu",
    "dostęp zabroniony", "nietypowy ruch", "weryfikacja bezpieczeństwa", "jesteś człowiekiem",
    # ru
    "вы робот", "не робот", "проверка браузера", "проверяем ваш браузер", "включите javascript",
    "доступ запрещен", "доступ запрещён", "подозрительный трафик", "необычный трафик", "проверка безопасности",
    "что вы человек",
    # uk
    "ви робот", "перевірка браузера", "увімкніть javascript", "доступ заборонено", "підозрілий трафік",
    "незвичний трафік", "перевірка безпеки", "що ви людина",
    # tr
    "robot musunuz", "robot değilim", "tarayıcınız kontrol ediliyor", "javascript'i etkinleştirin",
    "erişim engellendi", "erişim reddedildi", "olağandışı trafik", "güvenlik kontrolü", "insan olduğunuzu",
    # ar
    "هل أنت روبوت", "لست روبوت", "التحقق من المتصفح", "تفعيل جافا سكريبت", "تم رفض الوصول", "الوصول مرفوض",
    "حركة مرور غير عادية", "أنك إنسان", "فحص أمني",
    # zh
    "人机验证", "我不是机器人", "您是人类", "正在检查您的浏览器", "启用javascript", "启用 javascript", "访问被拒绝",
    "异常流量", "安全验证", "验证码", "滑动验证",
    # ja
    "ロボットではありません", "ブラウザを確認しています", "javascriptを有効", "アクセスが拒否されました",
    "異常なトラフィック", "セキュリティチェック", "人間であることを確認",
)  # fmt: skip

_ERROR_PAGE: Final = (
    # en
    "page not found", "404 not found", "error 404", "404 error", "this page does not exist",
    "the page you requested", "the page you are looking for", "could not be found", "internal server error",
    "service unavailable", "bad gateway", "something went wrong", "an error occurred", "403 forbidden",
    "the requested url", "page is no longer available", "page has been removed",
    # de
    "seite nicht gefunden", "die seite existiert nicht", "fehler 404", "die angeforderte seite",
    "die gesuchte seite", "interner serverfehler", "dienst nicht verfügbar", "ein fehler aufgetreten",
    "nicht mehr verfügbar",
    # fr
    "page introuvable", "page non trouvée", "cette page n'existe pas", "erreur 404", "la page demandée",
    "la page que vous recherchez", "erreur interne du serveur", "service indisponible", "une erreur est survenue",
    "une erreur s'est produite", "n'est plus disponible",
    # es
    "página no encontrada", "esta página no existe", "la página solicitada", "la página que buscas",
    "error interno del servidor", "servicio no disponible", "se ha producido un error", "ha ocurrido un error",
    "ya no está disponible",
    # it
    "pagina non trovata", "questa pagina non esiste", "errore 404", "la pagina richiesta", "la pagina che cerchi",
    "errore interno del server", "servizio non disponibile", "si è verificato un errore", "non è più disponibile",
    # pt
    "página não encontrada", "esta página não existe", "erro 404", "a página solicitada", "a página que procura",
    "erro interno do servidor", "serviço indisponível", "ocorreu um erro", "não está mais disponível",
    "já não está disponível",
    # pl
    "nie znaleziono strony", "strona nie istnieje", "błąd 404", "żądana strona", "wewnętrzny błąd serwera",
    "usługa niedostępna", "wystąpił błąd", "nie jest już dostępna",
    # ru
    "страница не найдена", "такой страницы не существует", "ошибка 404", "запрашиваемая страница",
    "внутренняя ошибка сервера", "сервис недоступен", "сервис временно недоступен", "произошла ошибка",
    "страница удалена",
    # uk
    "сторінку не знайдено", "сторінка не знайдена", "такої сторінки не існує", "помилка 404",
    "запитувана сторінка", "внутрішня помилка сервера", "сервіс недоступний", "сталася помилка",
    # tr
    "sayfa bulunamadı", "bu sayfa mevcut değil", "hata 404", "404 hatası", "aradığınız sayfa",
    "sunucu hatası", "hizmet kullanılamıyor", "bir hata oluştu", "artık mevcut değil",
    # ar
    "الصفحة غير موجودة", "لم يتم العثور على الصفحة", "خطأ 404", "الصفحة المطلوبة", "خطأ داخلي في الخادم",
    "الخدمة غير متوفرة", "حدث خطأ",
    # zh
    "页面不存在", "找不到页面", "页面未找到", "您访问的页面", "404错误", "服务器内部错误", "服务不可用", "出错了",
    "頁面不存在",
    # ja
    "ページが見つかりません", "お探しのページ", "ページは存在しません", "404エラー", "サーバーエラー",
    "サービスを利用できません", "エラーが発生しました",
)  # fmt: skip

CUES: Final[dict[str, tuple[str, ...]]] = {
    "paywall": _PAYWALL,
    "cookie-wall": _COOKIE_WALL,
    "bot-check": _BOT_CHECK,
    "error-page": _ERROR_PAGE,
}
"""Cue phrases per kind; the order is the precedence on a tie (walls as before, then errors)."""
CUE_LANGUAGES: Final = ("en", "de", "fr", "es", "it", "pt", "pl", "ru", "uk", "tr", "ar", "zh", "ja")

WALL_KINDS: Final = frozenset({"paywall", "cookie-wall", "bot-check"})
JUNK_KINDS: Final = WALL_KINDS | {"error-page"}
"""Page kinds that never form or join a story (with a ``not-article`` page of no prose)."""

# -- shape ----------------------------------------------------------------------------------------

MIN_ARTICLE_CHARS = 400  # less text than this is not an article
MIN_JUNK_CHARS = 200  # a text without prose this long is junk, not a short note
PROSE_WORDS = 6  # a sentence of fewer words is a button, a link or a label
LONG_SENTENCE_WORDS = 15  # a run of this many words is prose even without a full stop
ARTICLE_SENTENCES = 3  # an article has at least this many prose sentences outside the notices
LONG_PROSE_CHARS = 500  # (or fewer, longer ones: this much prose)
ARTICLE_PROSE_CHARS = 300  # and at least this much prose
PROSE_OVER_CUES = 2.0  # and this many times more prose than notice text
SHORT_ARTICLE_SENTENCES = 2  # (a short text: this many prose sentences beside a single notice)
MENTION_WORDS = 20  # a sentence this long with a single cue mentions it: it is prose, not a notice
FOOTER_CUES = 2  # a page with at most this many notice sentences...
FOOTER_SHARE = 0.15  # ...that are at most this share of its text carries a footer, not a wall
JUNK_PROSE_SHARE = 0.3  # a page of no cue whose prose is less than this share of it is not an article
JUNK_SENTENCES = 2
FIGURES_SHARE = 0.3  # a sentence with more digits than this share is a row of a table
HEAD_CHARS = 3000  # of a long text, its start and end are measured
TAIL_CHARS = 1000

# sentence ends (not before a lowercase word: "U.S. troops"), CJK and Arabic ones without spaces
_SPLIT = re.compile(r"(?<=[.!?;…])[\"”’»)\]]*\s+(?![a-z])|(?<=[。！？；])|(?<=[؟؛])\s*")
_TERMINAL = re.compile(r"(?:[.!?…。！？؟:;]|https?://\S+)[\"”’»)\]>]*$")  # a sentence may end with its link
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af]")
_DIGITS = "0123456789"


def _needs_word_start(phrase: str) -> bool:
    """Phrases in alphabetic scripts match at the start of a word only ("consenso" not in "dissenso")."""
    return phrase[:1].isalnum() and not _CJK.match(phrase)


_TOKEN = re.compile(r"\w+")


# One character for another, so that a cue matches however it is typed: typographic quotes
# and dashes (French sites print n’existe), the modifier letter apostrophe, Turkish dotless ı
# (SAYFA BULUNAMADI casefolds to ...madi). One for one, so the folded text keeps its offsets.
_CUE_FOLD: dict[int, str | None] = {**TYPOGRAPHIC_FOLD, **APOSTROPHE_FOLD, ord("ı"): "i"}


def fold_cue(text: str) -> str:
    """``text`` as cue phrases are matched: case-folded, with :data:`_CUE_FOLD` applied."""
    return replace_chars(text.casefold(), _CUE_FOLD)


def _index_phrases() -> tuple[dict[str, list[tuple[str, str]]], list[tuple[str, str, bool]]]:
    """Phrases of several words keyed by their first word (searched only when the text has
    that word), and the others (one word, or a script without spaces: always searched)."""
    by_first: dict[str, list[tuple[str, str]]] = {}
    always: list[tuple[str, str, bool]] = []
    for kind, phrases in CUES.items():
        for phrase in dict.fromkeys(fold_cue(p) for p in phrases):
            first = _TOKEN.match(phrase)
            if _needs_word_start(phrase) and first and first.end() < len(phrase):
                by_first.setdefault(first.group(0), []).append((phrase, kind))
            else:
                always.append((phrase, kind, _needs_word_start(phrase)))
    return by_first, always


_BY_FIRST_WORD, _ALWAYS = _index_phrases()


def _cue_hits(folded: str) -> list[tuple[int, str]]:
    """(position, kind) of every cue phrase in a case-folded text, in position order."""
    todo = list(_ALWAYS)
    for word in set(_TOKEN.findall(folded)) & _BY_FIRST_WORD.keys():
        todo.extend((phrase, kind, True) for phrase, kind in _BY_FIRST_WORD[word])
    hits = []
    for phrase, kind, word_start in todo:
        at = folded.find(phrase)
        while at >= 0:
            if not word_start or at == 0 or not folded[at - 1].isalnum():
                hits.append((at, kind))
            at = folded.find(phrase, at + 1)
    hits.sort()
    return hits


@dataclass(frozen=True, slots=True)
class PageShape:
    """What a page's text is made of.

    ``prose_chars``/``prose_sentences``: sentences of running prose without a cue; ``cue_chars``
    and ``cues`` (kind -> sentences): sentences carrying a notice cue; ``chars``: all text.
    """

    chars: int
    lines: int
    prose_chars: int
    prose_sentences: int
    cue_chars: int
    cues: dict[str, int]

    @property
    def prose_share(self) -> float:
        """Share of the text that is running prose without a cue."""
        return self.prose_chars / self.chars if self.chars else 0.0

    @property
    def is_article_prose(self) -> bool:
        """Enough running prose outside the notices to be an article."""
        if self.prose_chars < PROSE_OVER_CUES * self.cue_chars:
            return False
        long_enough = self.prose_sentences >= ARTICLE_SENTENCES or self.prose_chars >= LONG_PROSE_CHARS
        return (long_enough and self.prose_chars >= ARTICLE_PROSE_CHARS) or (
            self.prose_sentences >= SHORT_ARTICLE_SENTENCES and sum(self.cues.values()) == 1
        )

    @property
    def has_prose(self) -> bool:
        """Some running prose: not a menu, a link list or a row of buttons."""
        return self.prose_sentences >= JUNK_SENTENCES or self.prose_share >= JUNK_PROSE_SHARE

    @property
    def is_footer_only(self) -> bool:
        """The notices are a footer line or two on a page with text of its own (a table, a
        short piece): they do not make it a wall."""
        return (
            sum(self.cues.values()) <= FOOTER_CUES
            and self.cue_chars <= FOOTER_SHARE * self.chars
            and self.chars - self.cue_chars >= MIN_ARTICLE_CHARS
            and self.has_prose
        )


def _words(unit: str, spaceless: bool) -> int:
    """Words of a sentence; in scripts written without spaces (``spaceless``: the text has
    some), two characters count as one."""
    return len(unit.split()) + (len(_CJK.findall(unit)) // 2 if spaceless else 0)


def _bounded(text: str) -> str:
    """A long text's start and end (:data:`HEAD_CHARS`, :data:`TAIL_CHARS`): enough to tell a
    wall from an article, at a bounded cost."""
    if len(text) <= HEAD_CHARS + TAIL_CHARS:
        return text
    head, tail = text[:HEAD_CHARS], text[-TAIL_CHARS:]
    return head[: head.rfind("\n")] + "\n" + tail[tail.find("\n") + 1 :] if "\n" in head else head + "\n" + tail


def page_shape(text: str) -> PageShape:
    """Measure the prose and the notices of a page's text (sentence by sentence; of a long
    text, its first 3,000 and last 1,000 characters)."""
    units: list[tuple[int, str, int]] = []  # (start in the folded text, sentence, units on its line)
    lines = [" ".join(line.split()) for line in _bounded(text).split("\n")]
    offset = 0
    for line in lines:
        parts = [u for u in _SPLIT.split(line) if u.strip()] if line else []
        start = offset
        for unit in parts:
            start = offset + line.find(unit, start - offset)
            units.append((start, unit, len(parts)))
            start += len(unit)
        offset += len(line) + 1
    joined = "\n".join(lines)
    folded = fold_cue(joined)
    hits_of: dict[int, list[str]] = {}
    if len(folded) == len(joined):  # one search over the whole text, hits mapped to sentences
        starts = [u[0] for u in units]
        for at, kind in _cue_hits(folded):
            k = bisect.bisect_right(starts, at) - 1
            if k >= 0:
                hits_of.setdefault(k, []).append(kind)
    else:  # case folding changed lengths (ß, İ): search sentence by sentence
        for k, (_, unit, _) in enumerate(units):
            found = [kind for _, kind in _cue_hits(fold_cue(unit))]
            if found:
                hits_of[k] = found
    prose_chars = prose_sentences = cue_chars = 0
    cues: dict[str, int] = {}
    spaceless = _CJK.search(joined) is not None
    for k, (_, unit, siblings) in enumerate(units):
        hits = hits_of.get(k)
        n = _words(unit, spaceless)
        if hits and (len(hits) > 1 or n < MENTION_WORDS):  # one cue in a long sentence is a mention
            cue_chars += len(unit)
            for kind in set(hits):
                cues[kind] = cues.get(kind, 0) + 1
            continue
        if n < PROSE_WORDS or not (n >= LONG_SENTENCE_WORDS or siblings > 1 or _TERMINAL.search(unit)):
            continue
        if sum(map(unit.count, _DIGITS)) < FIGURES_SHARE * len(unit):  # not a row of figures
            prose_chars += len(unit)
            prose_sentences += 1
    chars = sum(len(line) for line in lines)
    return PageShape(chars, sum(1 for line in lines if line), prose_chars, prose_sentences, cue_chars, cues)


def classify_shape(shape: PageShape) -> str:
    """The kind of a page of this shape (see :func:`classify_page`)."""
    if shape.cues and not shape.is_article_prose and not shape.is_footer_only:
        return max(CUES, key=lambda kind: (shape.cues.get(kind, 0), -list(CUES).index(kind)))
    if shape.chars < MIN_ARTICLE_CHARS or not shape.has_prose:
        return "not-article"
    return "article"


def classify_page(text: str) -> str:
    """``article``, or why a page is not one: paywall, cookie-wall, bot-check, error-page, not-article.

    A notice (cue phrases in 13 languages) makes a wall or an error page only when the prose
    outside its sentences is too thin for an article (:attr:`PageShape.is_article_prose`); a
    page with too little text, or with no running prose at all (menus, link lists, buttons), is
    ``not-article``.
    """
    return classify_shape(page_shape(text))


def junk_kind(text: str, by_shape: bool = True) -> str | None:
    """The kind of a page that must never form or join a story, else None.

    Walls and error pages always; with ``by_shape`` (not for feed summaries, which are short
    by nature) also, as ``not-article``, a text without a single sentence of running prose
    (a row of buttons or labels: "Premium / Sign in"), and a text of at least
    :data:`MIN_JUNK_CHARS` characters or three lines or more with too little running prose
    (menus, link lists, a wall in a language without cues).
    """
    shape = page_shape(text)
    kind = classify_shape(shape)
    if kind in JUNK_KINDS:
        return kind
    if (
        by_shape
        and kind == "not-article"
        and not shape.has_prose
        and (shape.chars >= MIN_JUNK_CHARS or shape.lines >= 3 or shape.prose_chars == 0)
    ):
        return kind
    return None
