"""The codes people type: a class's join code (for the projector) and a student's personal code (kiwi-mango-4821).

Both are drawn from the system's secure random source. A join code avoids letters that read alike (0/O, 1/I/L); a
personal code is two words a child can spell in English or Spanish and four digits: easy to write down, 164 million
of them. At the sign-in limit for codes from everywhere (accounts.RATE: 100 failures a minute), finding any one of
a school's 1,000 codes takes about 1,600 minutes of guessing on average, and the teacher sees the attempts.
"""

import hashlib
import hmac
import re
import secrets

JOIN_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
JOIN_LENGTH = 6
WORDS = (
    "alpaca", "ancla", "arco", "atlas", "bambu", "banana", "bingo", "boa", "bongo", "cacao", "cactus", "canoa",
    "casa", "cebra", "cedro", "cielo", "cobra", "coco", "color", "condor", "coral", "cosmos", "coyote", "delta",
    "dingo", "disco", "dodo", "domino", "dragon", "duna", "eco", "elfo", "emu", "faro", "fauna", "flora", "foca",
    "fresa", "gala", "gecko", "globo", "gong", "gorila", "guava", "hada", "hielo", "hipo", "hola", "hotel",
    "humo", "iglu", "iguana", "indigo", "isla", "jade", "jaguar", "jazz", "judo", "kayak", "kiwi", "koala", "lago",
    "lava", "lemur", "leon", "lima", "lince", "llama", "lobo", "loro", "luna", "lupa", "mango", "mapa", "melon",
    "menta", "metro", "miel", "mono", "moto", "nido", "ninja", "nube", "nutria", "oasis", "ola", "olivo", "opera",
    "orca", "oso", "panda", "papaya", "pasta", "perla", "piano", "pino", "pixel", "pizza", "planeta", "polo",
    "poni", "puma", "radar", "rana", "robot", "roca", "rosa", "rubi", "ruta", "safari", "salsa", "samba", "sauce",
    "selva", "sol", "sofa", "taco", "tango", "tapir", "tigre", "tomate", "torre", "tucan", "tuna", "uva",
    "vela", "yoga", "zebra",
)
PERSONAL = re.compile(r"^([a-z]+)-([a-z]+)-(\d{4})$")


def join_code():
    """A class's join code, e.g. K7M2QX."""
    return "".join(secrets.choice(JOIN_ALPHABET) for _ in range(JOIN_LENGTH))


def personal_code():
    """A student's personal code, e.g. kiwi-mango-4821."""
    return f"{secrets.choice(WORDS)}-{secrets.choice(WORDS)}-{secrets.randbelow(10_000):04d}"


def tidy_join(typed):
    """What a student typed as a join code, as stored: capitals and digits only, without spaces, dashes or anything
    else (k7m-2qx -> K7M2QX; a NUL, which PostgreSQL refuses in a query, goes too)."""
    return re.sub(r"[^A-Z0-9]", "", str(typed or "").upper())[:32]


def tidy_personal(typed):
    """What a student typed as a personal code, as stored: lower case, one dash between its parts
    (" Kiwi Mango 4821 " -> kiwi-mango-4821)."""
    return re.sub(r"[\s_\-]+", "-", str(typed or "")[:80].strip().lower())[:40]


def digest(key, text):
    """A keyed hash of a code: the database can find a student by it, and a copy of the database cannot be read
    back into codes without the key (accounts.key: kept outside the database, in a file only its owner reads)."""
    return hmac.new(key.encode(), text.encode(), hashlib.sha256).hexdigest()


def qr_png(text, scale=8):
    """A QR code of text (a class's join link) as PNG bytes, made here, offline (segno)."""
    import io

    import segno

    out = io.BytesIO()
    segno.make(text, error="m").save(out, kind="png", scale=scale, border=2)
    return out.getvalue()
