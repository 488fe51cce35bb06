#!/usr/bin/env python3
"""Writes a synthetic workspace directory for the import benchmark: N people (and the companies
they work at) as CSV or NDJSON, deterministic for a given seed.

    bench/directory_gen.py --people 1000000 --format csv people.csv [--companies companies.csv]
"""

import argparse
import csv
import json
import random
import sys

FIRST = ["Ana", "Bruno", "Chiara", "Daan", "Élodie", "Francesca", "Gonçalo", "Hanna", "Iñigo",
         "Jeroen", "Katarzyna", "Lucía", "Matteo", "Noor", "Océane", "Pedro", "Quentin", "Rosa",
         "Søren", "Teresa", "Ugo", "Valentina", "Willem", "Xavier", "Yara", "Zoë", "李", "Mehmet",
         "Aoife", "Dmitri"]
LAST = ["Silva", "Rossi", "de Vries", "Dubois", "García", "Ødegård", "Janssen", "Moreau",
        "Ferreira", "Bianchi", "van den Berg", "Lefèvre", "Martínez", "Costa", "Romano", "Bakker",
        "Laurent", "Fernández", "Santos", "Esposito", "Visser", "Girard", "López", "Oliveira",
        "Ricci", "Smit", "Fontaine", "Sánchez", "Pereira", "Marino"]
TITLES = ["Head of Procurement", "CFO", "IT Manager", "Sales Director", "Operations Lead",
          "Directeur commercial", "Responsabile acquisti", "Inkoopmanager", "Diretor financeiro",
          "Jefe de compras", "CTO", "VP Engineering", "Office Manager", "Buyer"]
CITIES = ["Lisboa, Portugal", "Milano, Italia", "Amsterdam, Nederland", "Lyon, France",
          "Madrid, España", "Porto, Portugal", "Rotterdam, Nederland", "Torino, Italia",
          "Sevilla, España", "Bordeaux, France", "London, United Kingdom", "Berlin, Deutschland"]
INDUSTRIES = ["Manufacturing", "Retail", "Software", "Logistics", "Healthcare", "Energy"]
SIZES = ["1-10", "11-50", "51-200", "201-500", "501-1000", "1001-5000", "5001-10000", "10001+"]
SUFFIXES = ["Ltd", "S.p.A.", "B.V.", "SAS", "S.L.", "Lda", "GmbH", "Group"]
PEOPLE_COLUMNS = ["external_id", "full_name", "title", "company_name", "company_external_id",
                  "location", "email", "phone", "profile_url"]
COMPANY_COLUMNS = ["external_id", "name", "website", "domain", "industry", "location", "size"]


def companies(rng, count):
    for i in range(count):
        stem = f"{rng.choice(LAST).replace(' ', '')}{rng.choice(['tech', 'trade', 'works', 'logic', 'data'])}{i}"
        domain = f"{stem.lower()}.example"
        yield {
            "external_id": f"c{i}",
            "name": f"{stem.capitalize()} {rng.choice(SUFFIXES)}",
            "website": f"https://www.{domain}",
            "domain": domain,
            "industry": rng.choice(INDUSTRIES),
            "location": rng.choice(CITIES),
            "size": rng.choice(SIZES),
        }


def people(rng, count, company_count, linked):
    for i in range(count):
        first, last = rng.choice(FIRST), rng.choice(LAST)
        company = rng.randrange(company_count)
        row = {
            "external_id": f"p{i}",
            "full_name": f"{first} {last}",
            "title": rng.choice(TITLES),
            "company_name": f"Company {company}",
            "company_external_id": f"c{company}" if linked else None,
            "location": rng.choice(CITIES),
            "email": f"p{i}@c{company}.example",
            "phone": f"+351 21 {rng.randrange(1000000, 9999999)}",
            "profile_url": f"https://profiles.example/in/p{i}",
        }
        yield row


def write(rows, columns, fmt, out):
    if fmt == "csv":
        writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: ("" if v is None else v) for k, v in row.items()})
    else:
        for row in rows:
            out.write(json.dumps({k: v for k, v in row.items() if v is not None}, ensure_ascii=False))
            out.write("\n")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--people", type=int, default=1_000_000)
    parser.add_argument("--company-count", type=int, default=50_000)
    parser.add_argument("--format", choices=["csv", "ndjson"], default="csv")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--companies", help="also write the companies to this file (and link people to them)")
    parser.add_argument("output")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    if args.companies:
        with open(args.companies, "w", encoding="utf-8", newline="") as out:
            write(companies(rng, args.company_count), COMPANY_COLUMNS, args.format, out)
    with open(args.output, "w", encoding="utf-8", newline="") as out:
        write(people(rng, args.people, args.company_count, bool(args.companies)), PEOPLE_COLUMNS,
              args.format, out)


if __name__ == "__main__":
    sys.exit(main())
