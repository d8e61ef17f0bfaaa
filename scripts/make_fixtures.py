"""Write fixtures/users.json: 1,000 users made by Faker with a fixed seed.

Rerunning it yields the same bytes (same Faker version, from requirements.lock). A few
rows carry deliberate edge cases every stack must escape the same way: markup, `&`,
both quote kinds and non-ASCII names.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime, timedelta
from pathlib import Path

from faker import Faker

SEED = 20261121
COUNT = 1000
DEFAULT_OUT = Path(__file__).resolve().parents[1] / "fixtures" / "users.json"
GENDERS = ("Female", "Male", "Non-binary", "Agender", "Genderfluid")
EPOCH = datetime(2020, 1, 1)

EDGE_ROWS = {
    1: {"first_name": '<script>alert("x")</script>', "last_name": "Tag & Co"},
    2: {"first_name": "O'Brien", "last_name": 'The "Quoted" One'},
    3: {"first_name": "Zoë", "last_name": "Łukasiewicz-Øster"},
    4: {"first_name": "渡辺", "last_name": "Ñúñez <b>&amp;</b>"},
    5: {"first_name": "Ana & Bea", "last_name": "It's \"both\""},
}


def make_users() -> list[dict]:
    fake = Faker("en_US")
    fake.seed_instance(SEED)
    users = []
    for user_id in range(1, COUNT + 1):
        joined = EPOCH + timedelta(seconds=fake.random_int(0, 5 * 365 * 86400))
        user = {
            "id": user_id,
            "first_name": fake.first_name(),
            "last_name": fake.last_name(),
            "email": f"user{user_id}.{fake.user_name()}@{fake.free_email_domain()}",
            "gender": fake.random_element(GENDERS),
            "ip_address": fake.ipv4_public() if user_id % 10 else fake.ipv6(),
            "date_joined": joined.strftime("%Y-%m-%d %H:%M:%S"),
        }
        user.update(EDGE_ROWS.get(user_id, {}))
        users.append(user)
    return users


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="where to write (default: %(default)s)")
    out = parser.parse_args(argv).out
    text = json.dumps(make_users(), ensure_ascii=False, indent=1) + "\n"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")
    print(f"wrote {COUNT} users to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
