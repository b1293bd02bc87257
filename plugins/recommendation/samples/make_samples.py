"""Regenerate the invented Lantern Lane Books sample data for the recommendation plugin.

Everything here is made up: the shop, the books, the users and what they did. Deterministic
(``random.Random(7)``, standard library only); writes items.csv, new_items.csv,
interactions.csv and users.csv next to this file::

    python plugins/recommendation/samples/make_samples.py
"""

from __future__ import annotations

import csv
import random
from datetime import datetime, timedelta, timezone
from pathlib import Path

HERE = Path(__file__).resolve().parent

# (cluster, [(title, text, tags), ...]) - ten books per cluster, ids B001..B090 in this order.
CATALOGUE: list[tuple[str, list[tuple[str, str, str]]]] = [
    ("cooking", [
        ("The Patient Loaf", "A slow, friendly guide to sourdough starters, long fermentation and crusty country bread. Includes a week-by-week schedule for busy home bakers.", "cooking|baking|bread|sourdough"),
        ("Thirty-Minute Greens", "Fast weeknight vegetarian dinners built around seasonal vegetables, grains and a well-stocked pantry.", "cooking|vegetarian|quick-meals"),
        ("Butter, Flour, Fold", "Laminated doughs demystified: croissants, puff pastry and Danish, with step-by-step photographs of every fold.", "cooking|baking|pastry"),
        ("One Pot, Many Nights", "Soups, stews and braises that taste better on the second day, with notes on freezing and reheating.", "cooking|soups|batch-cooking"),
        ("The Spice Drawer Atlas", "How to toast, grind and blend spices from five continents, with forty recipes that put each blend to work.", "cooking|spices|world-cuisine"),
        ("Small Cakes for Big Days", "Cupcakes, tea cakes and celebration bakes scaled for small households, plus frosting and decorating basics.", "baking|desserts|cakes"),
        ("Jars on the Windowsill", "Pickles, jams, ferments and chutneys for beginners, with clear advice on safe canning and storage.", "cooking|preserving|fermentation"),
        ("The Lentil Cookbook", "Hearty vegetarian and vegan meals from red, green and black lentils, from dals to salads and burgers.", "cooking|vegetarian|vegan"),
        ("Sunday Roast, Monday Lunch", "Classic family roasts and clever ways to turn the leftovers into lunches for the week ahead.", "cooking|family|meal-planning"),
        ("Flatbreads of the World", "Tortillas, naan, pita and lavash made at home on a skillet or in the oven, with dips and fillings to match.", "cooking|baking|bread|world-cuisine"),
    ]),
    ("science-fiction", [
        ("The Orbit of Quiet Things", "A salvage crew drifting between dead space stations picks up a signal that should not exist. A tense, character-driven space opera.", "science-fiction|space-opera"),
        ("Ninth Moon Protocol", "When a mining colony on a frozen moon loses contact with Earth, its chief engineer must decide who to trust.", "science-fiction|colony|thriller"),
        ("Glass Cities", "In a near-future megacity run by predictive algorithms, a data courier uncovers who the system was built to forget.", "science-fiction|cyberpunk|dystopia"),
        ("The Translator's Silence", "First contact told through the eyes of a linguist who realises the visitors have been listening for centuries.", "science-fiction|first-contact|aliens"),
        ("Rust and Starlight", "A retired maintenance robot and a runaway teenager cross a flooded continent in search of a rumoured seed vault.", "science-fiction|robots|climate-fiction"),
        ("Yesterday's Pilot", "A test pilot keeps waking up a week earlier than the day before, and with every loop the launch goes a little more wrong.", "science-fiction|time-travel"),
        ("Generation Ship Lullabies", "Linked stories from the seven-hundred-year voyage of the ark ship Calloway, told by the generations born aboard.", "science-fiction|generation-ship|short-stories"),
        ("The Darkwater Treaty", "Three interstellar empires negotiate a ceasefire while an artificial intelligence serving as diplomat quietly rewrites the terms.", "science-fiction|space-opera|artificial-intelligence"),
        ("Soft Landing on Kepler Street", "A warm, funny novel about the first human family to run a noodle shop on a terraformed Mars.", "science-fiction|mars|cosy"),
        ("Tides of the Dyson Sea", "Hard science fiction about engineers building a shell around a dying star, and the cult that wants them to fail.", "science-fiction|hard-sf|megastructures"),
    ]),
    ("finance", [
        ("The Calm Budget", "A no-guilt method for building a monthly budget, tracking spending and setting aside an emergency fund.", "personal-finance|budgeting|saving"),
        ("Index Funds for the Rest of Us", "A plain-language introduction to low-cost index investing, diversification and why fees matter over decades.", "investing|index-funds|personal-finance"),
        ("Debt-Free by Design", "Practical strategies for paying off credit cards and student loans, with worksheets for the snowball and avalanche methods.", "personal-finance|debt|budgeting"),
        ("Compound Interest and Coffee", "Short, friendly chapters on saving, investing and retirement accounts for people in their twenties.", "personal-finance|investing|saving"),
        ("The Dividend Ladder", "How to build a portfolio of dividend-paying stocks and bonds that grows a steady income stream.", "investing|dividends|income"),
        ("Retire on Purpose", "Planning for retirement: pensions, withdrawal rates, healthcare costs and how to know when you have enough.", "retirement|personal-finance|planning"),
        ("Reading a Balance Sheet", "A beginner's guide to company financial statements, valuation ratios and spotting red flags before you buy a share.", "investing|stocks|accounting"),
        ("Money Talks at Home", "How couples and families can talk openly about money, share goals and split bills without arguments.", "personal-finance|family|budgeting"),
        ("The Frugal Freelancer", "Taxes, irregular income, invoicing and saving for self-employed workers and small business owners.", "personal-finance|freelancing|taxes"),
        ("Markets Without Panic", "A behavioural guide to investing through crashes and bubbles, and to the habits that protect long-term returns.", "investing|behavioural-finance|stocks"),
    ]),
    ("travel", [
        ("Ridge Walks of the Northern Hills", "Twenty-four day hikes along mountain ridges, with maps, elevation profiles and honest notes on difficulty.", "hiking|mountains|guidebook"),
        ("The Lightweight Pack", "Gear lists, food planning and packing tips for multi-day backpacking trips without a heavy load.", "hiking|backpacking|gear"),
        ("Slow Trains Across the Continent", "A travel memoir of three months crossing the continent by regional rail, with practical tips on rail passes and routes.", "travel|rail|memoir"),
        ("Coastal Path Diaries", "A walker's account of a thousand kilometres of coastal trail, cliff villages and seaside campsites.", "hiking|coast|travel|memoir"),
        ("Camping Under Open Skies", "Everything a first-time camper needs: choosing a tent, staying warm, reading the weather and leaving no trace.", "camping|outdoors|beginners"),
        ("Island Hopping on a Shoestring", "Ferries, hostels and hidden beaches: a practical guide to exploring island chains without overspending.", "travel|budget-travel|islands"),
        ("High Passes", "Stories and route guides for trekking over high-altitude mountain passes, including acclimatisation and safety advice.", "hiking|trekking|mountains"),
        ("The City Walker's Notebook", "Self-guided walking tours through twelve old cities, with cafés, viewpoints and quiet back streets.", "travel|city-walks|guidebook"),
        ("Desert Trails and Night Skies", "Hiking routes through canyons and desert plateaus, timed for cool mornings and stargazing nights.", "hiking|desert|travel"),
        ("Long Distance Trail Handbook", "Planning a thru-hike, from permits and resupply boxes to blisters, weather and the last hundred miles.", "hiking|thru-hiking|backpacking"),
    ]),
    ("children", [
        ("Pip the Puffin Can't Sleep", "A sleepy puffin tries every trick to fall asleep before the tide comes in. A gentle bedtime picture book.", "children|picture-book|bedtime|animals"),
        ("The Very Tall Giraffe Who Was Shy", "A giraffe who towers over everyone learns that being noticed can be a good thing.", "children|picture-book|animals|feelings"),
        ("Mira's Red Wellies", "Mira splashes through every puddle in town on a rainy Saturday, counting colours as she goes.", "children|picture-book|counting|colours"),
        ("Grandpa's Cardboard Rocket", "A boy and his grandfather build a rocket out of boxes and fly it all the way to the kitchen moon.", "children|picture-book|imagination|family"),
        ("Ten Little Hedgehogs", "A rhyming counting book about ten hedgehogs getting ready for winter.", "children|picture-book|counting|rhyme"),
        ("Bear Makes a Friend", "Bear is nervous on his first day at forest school, until a small mouse asks to share his snack.", "children|picture-book|friendship|school"),
        ("The Moon Forgot to Rise", "One night the moon oversleeps and the animals of the valley set out to wake her. A lyrical bedtime story.", "children|picture-book|bedtime"),
        ("Dinosaur Bath Time", "A splashy read-aloud picture book about a little dinosaur who refuses to get clean.", "children|picture-book|dinosaurs|humour"),
        ("What Colour Is the Wind?", "A curious girl asks everyone she meets about the wind and discovers that all the answers are different.", "children|picture-book|nature|questions"),
        ("Little Tugboat, Big Harbour", "A small tugboat proves that even the littlest boat has an important job to do.", "children|picture-book|vehicles|courage"),
    ]),
    ("history", [
        ("Bronze and Salt", "How the trade in metals and salt shaped the first cities of the ancient Mediterranean.", "history|ancient-history|trade"),
        ("The Scribes of the River Kingdoms", "Daily life, writing and administration in the river civilisations of the ancient world.", "history|ancient-history|writing"),
        ("Castles Were Never Quiet", "A lively social history of medieval castles: the grooms, masons, servants and children who lived inside the walls.", "history|medieval|social-history"),
        ("Plague Year Letters", "Letters and town records tell the story of a medieval market town through a year of epidemic.", "history|medieval|epidemics"),
        ("The Cartographers' War", "How mapmakers, surveyors and spies redrew the borders of Europe in the early modern era.", "history|early-modern|maps"),
        ("Steam, Coal and Cotton", "The industrial revolution told through the factories, canals and workers that powered it.", "history|modern-history|industrial-revolution"),
        ("Empires of the Steppe", "Nomadic horse empires from antiquity to the middle ages, and how they connected east and west.", "history|ancient-history|medieval|empires"),
        ("The Long Armistice", "Europe between the two world wars, from treaty rooms to kitchen tables.", "history|modern-history|twentieth-century"),
        ("Voices from the Home Front", "Oral histories of ordinary families during the Second World War.", "history|modern-history|world-war-ii|oral-history"),
        ("A Short History of Bridges", "From Roman arches to suspension spans: engineering, ambition and the people who crossed them.", "history|engineering|architecture"),
    ]),
    ("gardening", [
        ("The Balcony Vegetable Garden", "Grow tomatoes, herbs, salad leaves and chillies in pots on a balcony or small patio.", "gardening|vegetables|small-spaces|containers"),
        ("Compost Happens", "The science and practice of composting kitchen and garden waste, from hot heaps to wormeries.", "gardening|composting|soil|organic"),
        ("A Year of Cut Flowers", "Plan, sow and harvest a cutting garden for fresh flowers from spring to the first frost.", "gardening|flowers|seasonal"),
        ("Houseplants That Forgive You", "Tough, low-light houseplants for busy people, with watering and repotting guides.", "gardening|houseplants|indoor"),
        ("No-Dig Vegetable Beds", "Build rich, weed-free vegetable beds with mulch and compost instead of a spade.", "gardening|vegetables|no-dig|organic"),
        ("The Pollinator Border", "Design flowering garden borders that feed bees, butterflies and hoverflies all season long.", "gardening|flowers|wildlife|pollinators"),
        ("Fruit Trees in Small Gardens", "Choosing, planting and pruning apples, pears, plums and figs where space is tight.", "gardening|fruit|pruning|small-spaces"),
        ("Seeds to Seedlings", "Everything about sowing seeds indoors and out, pricking out, hardening off and saving your own seed.", "gardening|seeds|propagation"),
        ("The Shade Garden", "Ferns, hostas and woodland plants for the darker corners of the garden.", "gardening|shade|perennials"),
        ("Allotment Through the Seasons", "Month-by-month jobs for a productive allotment or vegetable plot, with planting calendars.", "gardening|vegetables|allotment|seasonal"),
    ]),
    ("programming", [
        ("Python from the Ground Up", "A beginner-friendly introduction to programming in Python: variables, functions, files and small projects.", "programming|python|beginners"),
        ("Practical SQL for Analysts", "Query, join and aggregate data in relational databases, with exercises drawn from everyday business questions.", "programming|sql|databases|data-analysis"),
        ("Data Cleaning Field Guide", "Techniques for fixing messy spreadsheets and CSV files: missing values, duplicates, dates and encodings.", "data-science|data-cleaning|python"),
        ("Machine Learning Without the Mystery", "Regression, decision trees and neural networks explained with code and plain-English intuition.", "machine-learning|data-science|python"),
        ("The Testing Habit", "How to write automated tests that catch bugs early and make refactoring safe.", "programming|software-engineering|testing"),
        ("Building Web APIs", "Design, build and document HTTP APIs, from routing and authentication to versioning.", "programming|web-development|apis"),
        ("Visualising Data Clearly", "Charts that tell the truth: choosing plots, colours and labels for data stories.", "data-science|visualisation|statistics"),
        ("Statistics for Programmers", "Probability, sampling and hypothesis testing for developers who learn best by writing code.", "data-science|statistics|programming"),
        ("Version Control in Practice", "Branching, merging, code review and collaboration workflows with git.", "programming|git|software-engineering"),
        ("Recommender Systems by Example", "Build recommendation engines step by step, from popularity baselines to matrix factorisation and embeddings.", "machine-learning|recommender-systems|data-science"),
    ]),
    ("crime", [
        ("The Lighthouse Keeper's Alibi", "When a body washes up below the lighthouse, a retired detective is the only one who doubts the keeper's story.", "crime|mystery|detective"),
        ("Murder at the Village Fête", "A cosy mystery in which the jam competition judge is found dead and the vicar's wife starts asking questions.", "crime|cosy-mystery|village"),
        ("Cold Platform Nine", "A police procedural set on the night trains, where a missing passenger leads back to a decades-old case.", "crime|police-procedural|thriller"),
        ("The Ledger of Small Lies", "A forensic accountant follows a trail of falsified invoices to a killer inside her own firm.", "crime|thriller|fraud"),
        ("Fog over Marrow Lane", "A Victorian detective and her reluctant assistant investigate a string of disappearances in the docklands.", "crime|historical-mystery|detective"),
        ("Nobody Saw the Painter", "An art theft at a seaside gallery turns into a murder investigation with far too many suspects.", "crime|mystery|art-theft"),
        ("The Quiet Witness", "The only witness to a late-night shooting refuses to speak, and a young inspector has three days to learn why.", "crime|police-procedural|suspense"),
        ("Poison at the Book Club", "Members of a small-town book club start dying in the order of their reading list.", "crime|cosy-mystery|humour"),
        ("Detective Osei and the Missing Hour", "A sharp-witted detective untangles a locked-room mystery in a snowbound hotel.", "crime|mystery|locked-room|detective"),
        ("Dead Reckoning Bay", "A coastguard officer investigates a yacht found drifting with the table set for dinner and no one aboard.", "crime|mystery|suspense"),
    ]),
]

# Not in items.csv: added later to show that a new item reaches matching users without retraining.
NEW_ITEMS: list[tuple[str, str, str, str]] = [
    ("B101", "The Rain Garden Handbook", "Plant a rain garden and choose tough perennials, vegetables and herbs that thrive in a garden with less watering.", "gardening|vegetables|perennials|water-wise"),
    ("B102", "Starlight Salvage", "A salvage pilot and her patched-up robot chase a derelict starship through a collapsing wormhole in this fast space opera.", "science-fiction|space-opera|robots"),
    ("B103", "The Weekday Vegetarian Baker", "Savoury pies, tarts and breads for vegetarian cooks who love baking, with quick weeknight recipes.", "cooking|baking|vegetarian|bread"),
    ("B104", "Index Investing for Retirement", "A step-by-step plan for saving, investing in low-cost index funds and budgeting for a comfortable retirement.", "investing|retirement|index-funds|personal-finance"),
]

# Main interest cluster(s) of each user; fixed (not random) so docs and tests can name them.
USER_CLUSTERS: dict[str, tuple[str, ...]] = {
    "u01": ("cooking",), "u02": ("science-fiction",), "u03": ("gardening",), "u04": ("finance",),
    "u05": ("travel",), "u06": ("children",), "u07": ("history",), "u08": ("programming",),
    "u09": ("crime",), "u10": ("cooking", "gardening"), "u11": ("science-fiction", "programming"),
    "u12": ("finance", "programming"), "u13": ("travel", "history"), "u14": ("children", "cooking"),
    "u15": ("crime", "history"), "u16": ("science-fiction",), "u17": ("gardening", "travel"),
    "u18": ("finance",), "u19": ("crime",), "u20": ("cooking",), "u21": ("children", "gardening"),
    "u22": ("programming",), "u23": ("history",), "u24": ("science-fiction", "crime"),
}

# Profiles for about half of the users, plus two cold-start users (no interactions at all).
PROFILES: dict[str, str] = {
    "u01": "Weekend baker, loves sourdough and pastry.",
    "u03": "Grows vegetables on an allotment and reads everything about compost.",
    "u04": "Saving for a first home; wants simple advice on budgeting and index funds.",
    "u06": "Parent of a four-year-old, always looking for new bedtime picture books.",
    "u08": "Data analyst learning Python and machine learning in the evenings.",
    "u09": "Devours detective novels and cosy village mysteries.",
    "u10": "Cooks what she grows: vegetable beds in summer, pickles and jams in autumn.",
    "u11": "Software engineer who reads space opera on the commute.",
    "u13": "Plans hiking holidays around castles and ancient ruins.",
    "u16": "Fan of first-contact stories and hard science fiction.",
    "u19": "Likes police procedurals and dark thrillers.",
    "u21": "Primary school teacher who runs the school garden club and reads picture books aloud.",
    "u25": "New customer; has just taken on an allotment and wants to grow vegetables and flowers.",
    "u26": "New customer who loves detective stories and locked-room mysteries.",
}

START = datetime(2026, 1, 1, tzinfo=timezone.utc)
LAST = datetime(2026, 6, 30, 23, 59, tzinfo=timezone.utc)


def stamp(t: datetime) -> str:
    return min(max(t, START), LAST).strftime("%Y-%m-%dT%H:%M:00Z")


def write_csv(path: Path, header: list[str], rows: list[list[object]]) -> None:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)


def main() -> None:
    rng = random.Random(7)
    items: list[list[object]] = []
    by_cluster: dict[str, list[str]] = {}
    for c, (cluster, books) in enumerate(CATALOGUE):
        for b, (title, text, tags) in enumerate(books):
            item_id = f"B{c * 10 + b + 1:03d}"
            items.append([item_id, title, text, tags])
            by_cluster.setdefault(cluster, []).append(item_id)
    all_ids = [row[0] for row in items]

    interactions: list[list[object]] = []
    for user, clusters in USER_CLUSTERS.items():
        begin = START + timedelta(days=3 + rng.randint(0, 45), minutes=rng.randint(0, 1439))
        end = LAST - timedelta(days=15 + rng.randint(0, 45), minutes=rng.randint(0, 1439))
        span = int((end - begin).total_seconds() // 60)
        when = lambda: begin + timedelta(minutes=rng.randint(0, span))  # noqa: E731
        events: list[tuple[datetime, str, str, int]] = []  # (time, item, signal, value)
        for cluster in clusters:
            pool = by_cluster[cluster]
            chosen = rng.sample(pool, rng.randint(7, 8) if len(clusters) == 1 else rng.randint(5, 6))
            for n, item in enumerate(chosen):
                sure = n < 4  # the first four are clear positives, so every user has a readable taste
                t = when()
                for _ in range(rng.choices([0, 1, 2], [45, 40, 15])[0]):  # browsing before acting
                    events.append((t - timedelta(minutes=rng.randint(10, 3 * 24 * 60)), item, "click", 1))
                kinds = ["rating", "purchase", "purchase+rating", "click"]
                kind = rng.choices(kinds, [40, 25, 25, 0 if sure else 10])[0]
                if kind == "click":  # only looked at it (repeatedly), never bought or rated
                    for _ in range(rng.randint(1, 2)):
                        events.append((t + timedelta(minutes=rng.randint(0, 600)), item, "click", 1))
                    continue
                if kind.startswith("purchase"):
                    events.append((t, item, "purchase", 1))
                if kind.endswith("rating"):
                    later = t + timedelta(days=rng.randint(2, 14)) if kind == "purchase+rating" else t
                    stars = rng.choices([5, 4, 3], [50, 40, 0 if sure else 10])[0]
                    events.append((later, item, "rating", stars))
            others = [i for i in pool if i not in chosen]
            for item in rng.sample(others, rng.randint(1, 2)):  # browsed in-cluster, not bought
                events.append((when(), item, "click", 1))
        while len(events) < 12:
            events.append((when(), rng.choice([i for c in clusters for i in by_cluster[c]]), "click", 1))
        while len(events) > 27:
            clicks = [e for e in events if e[2] == "click"]
            events.remove(rng.choice(clicks))
        # ~10% noise: random books outside the user's clusters, mostly clicks or low ratings.
        outside = [i for i in all_ids if not any(i in by_cluster[c] for c in clusters)]
        for item in rng.sample(outside, max(1, round(len(events) / 9))):
            if rng.random() < 0.6:
                events.append((when(), item, "click", 1))
            else:
                events.append((when(), item, "rating", rng.choices([1, 2, 3], [30, 40, 30])[0]))
        events.sort(key=lambda e: (e[0], e[1], e[2]))
        interactions += [[user, item, stamp(t), signal, value] for t, item, signal, value in events]

    write_csv(HERE / "items.csv", ["id", "title", "text", "tags"], items)
    write_csv(HERE / "new_items.csv", ["id", "title", "text", "tags"], [list(r) for r in NEW_ITEMS])
    write_csv(HERE / "interactions.csv", ["user", "item", "time", "signal", "value"], interactions)
    write_csv(HERE / "users.csv", ["user", "profile"], [[u, p] for u, p in sorted(PROFILES.items())])
    print(f"items={len(items)} new_items={len(NEW_ITEMS)} interactions={len(interactions)} "
          f"users={len(USER_CLUSTERS)} profiles={len(PROFILES)}")


if __name__ == "__main__":
    main()
