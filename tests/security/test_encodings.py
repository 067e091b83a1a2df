"""Attack class 7: bytes that are not UTF-8. A SQL_ASCII database stores whatever bytes it is
given; a LATIN1 one stores 'é' as one byte. Every text argument of the extension's Rust functions
is converted from the server encoding; bytes that are not valid UTF-8 raise 22021, never XX000."""
import psycopg
import pytest
from attack import one

CALLS = [
    "SELECT insforge.verify_jwt({t}, 'a-secret-0123456789abcdef-0123456789abcdef')",
    "SELECT insforge.verify_jwt('x.y.z', {t})",
    "BEGIN; SELECT insforge.authenticate({t}); ROLLBACK",
    "SELECT insforge.set_jwt_secret({t})",
    "SELECT x402.checksum_address({t})",
    "SELECT x402.decode_header({t})",
    "SELECT x402.domain_separator({t}, '1', 196, '0x4ae46a509f6b1d9056937ba4500cb143933d2dc8')",
]


@pytest.fixture(scope="module")
def sql_ascii(cluster):
    with cluster.connect() as c:
        c.execute("DROP DATABASE IF EXISTS enc_sql_ascii WITH (FORCE)")
        c.execute("CREATE DATABASE enc_sql_ascii TEMPLATE template0 ENCODING 'SQL_ASCII' LC_COLLATE 'C' LC_CTYPE 'C'")
    with cluster.connect("enc_sql_ascii") as c:
        c.execute("CREATE EXTENSION insforge_integrations")
    yield "enc_sql_ascii"


@pytest.mark.parametrize("call", CALLS)
def test_invalid_utf8_is_a_clear_error(cluster, sql_ascii, call):
    with cluster.connect(sql_ascii) as c:
        # convert_from(..., 'SQL_ASCII') hands the raw bytes over as text in this database.
        text = "convert_from('\\xff41fe'::bytea, 'SQL_ASCII')"
        # Postgres's own conversion check ("invalid byte sequence for encoding UTF8") or ours.
        with pytest.raises(psycopg.errors.CharacterNotInRepertoire, match=r"UTF-?8"):
            for statement in call.format(t=text).split("; "):
                c.execute(statement)


def test_ascii_works_in_sql_ascii(cluster, sql_ascii):
    with cluster.connect(sql_ascii) as c:
        c.execute("SET client_encoding = 'UTF8'")
        assert one(c, "SELECT x402.checksum_address('0x4ae46a509f6b1d9056937ba4500cb143933d2dc8')") \
            == "0x4ae46a509F6b1D9056937BA4500cb143933D2dc8"
        assert one(c, "SELECT x402.decode_header(x402.encode_header('{\"a\": 1}'))") == {"a": 1}
        assert one(c, "SELECT encode(x402.domain_separator('Global Dollar', '1', 196,"
                      " '0x4ae46a509f6b1d9056937ba4500cb143933d2dc8'), 'hex')").startswith("415f0706")


def test_latin1_names_are_converted(cluster):
    """In a LATIN1 database 'é' is one byte (0xE9); the EIP-712 name is hashed as its UTF-8 form."""
    with cluster.connect() as c:
        c.execute("DROP DATABASE IF EXISTS enc_latin1 WITH (FORCE)")
        c.execute("CREATE DATABASE enc_latin1 TEMPLATE template0 ENCODING 'LATIN1' LC_COLLATE 'C' LC_CTYPE 'C'")
        utf8 = one(c, "SELECT encode(x402.domain_separator('Dollar é', '1', 1, '0x" + "11" * 20 + "'), 'hex')") \
            if one(c, "SELECT count(*) FROM pg_extension WHERE extname = 'insforge_integrations'") else None
    with cluster.connect("enc_latin1") as c:
        c.execute("CREATE EXTENSION insforge_integrations")
        latin1 = one(c, "SELECT encode(x402.domain_separator('Dollar é', '1', 1, '0x" + "11" * 20 + "'), 'hex')")
    with cluster.connect("enc_latin1") as c:
        assert latin1 == one(c, "SELECT encode(x402.domain_separator(convert_from('\\x446f6c6c617220e9'::bytea, 'LATIN1'),"
                                " '1', 1, '0x" + "11" * 20 + "'), 'hex')")
    if utf8 is not None:
        assert latin1 == utf8
