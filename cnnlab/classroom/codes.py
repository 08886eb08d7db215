"""The codes people type: a class's join code (for the projector) and a student's personal code (kiwi-4821).

Both are drawn from the system's secure random source. A join code avoids letters that read alike (0/O, 1/I/L); a
personal code is a word a child can spell in English or Spanish and four digits: easy to write down, about 1.3
million of them (the sign-in rate limit makes guessing one slower than a school year).
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
PERSONAL = re.compile(r"^([a-z]+)-(\d{4})$")


def join_code():
    """A class's join code, e.g. K7M2QX."""
    return "".join(secrets.choice(JOIN_ALPHABET) for _ in range(JOIN_LENGTH))


def personal_code():
    """A student's personal code, e.g. kiwi-4821."""
    return f"{secrets.choice(WORDS)}-{secrets.randbelow(10_000):04d}"


def tidy_join(typed):
    """What a student typed as a join code, as stored: capitals and digits only, without spaces, dashes or anything
    else (k7m-2qx -> K7M2QX; a NUL, which PostgreSQL refuses in a query, goes too)."""
    return re.sub(r"[^A-Z0-9]", "", str(typed or "").upper())[:32]


def tidy_personal(typed):
    """What a student typed as a personal code, as stored: lower case, one dash (" Kiwi 4821 " -> kiwi-4821)."""
    text = re.sub(r"[\s_\-]+", "-", str(typed or "").strip().lower())[:40]
    return text


def digest(key, text):
    """A keyed hash of a code: the database can find a student by it, and a copy of the database cannot be read
    back into codes without the key."""
    return hmac.new(key.encode(), text.encode(), hashlib.sha256).hexdigest()


def qr_png(text, scale=8):
    """A QR code of text (a class's join link) as PNG bytes, made here, offline (segno)."""
    import io

    import segno

    out = io.BytesIO()
    segno.make(text, error="m").save(out, kind="png", scale=scale, border=2)
    return out.getvalue()
