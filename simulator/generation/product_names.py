"""Product names in the shop's language, where Faker can name a colour in it.

Faker names colours in German, French, Spanish and Portuguese (its color providers for
de_DE, fr_FR, es_ES and pt_BR); in the other supported locales it falls back to English
CSS names, so those shops keep the English catalogue ("Star Thermal Bottle"). A localized
name is the item, as a shop of that language calls it, and a colour: "Rucksack Koralle".
"""

from __future__ import annotations

from simulator.generation.values import SeededFaker

# The items of world._ITEMS, in their order.
_NOUNS = {
    "de": ("Trinkflasche", "Becher", "Tragetasche", "Notizbuch", "Rucksack", "Schal", "Kerze",
           "Lampe", "Kopfhörer", "Sneaker", "T-Shirt", "Kapuzenpullover", "Geldbörse",
           "Sonnenbrille", "Wasserfilter", "Schneidebrett", "Yogamatte", "Uhr"),
    "fr": ("Gourde", "Tasse", "Sac cabas", "Carnet", "Sac à dos", "Écharpe", "Bougie", "Lampe",
           "Casque audio", "Baskets", "T-shirt", "Sweat à capuche", "Portefeuille",
           "Lunettes de soleil", "Filtre à eau", "Planche à découper", "Tapis de yoga",
           "Montre"),
    "es": ("Botella", "Taza", "Bolsa tote", "Cuaderno", "Mochila", "Bufanda", "Vela", "Lámpara",
           "Auriculares", "Zapatillas", "Camiseta", "Sudadera", "Cartera", "Gafas de sol",
           "Filtro de agua", "Tabla de cortar", "Esterilla de yoga", "Reloj"),
    "pt": ("Garrafa", "Caneca", "Bolsa", "Caderno", "Mochila", "Cachecol", "Vela", "Luminária",
           "Fones de ouvido", "Tênis", "Camiseta", "Moletom", "Carteira", "Óculos de sol",
           "Filtro de água", "Tábua de corte", "Tapete de yoga", "Relógio"),
}  # fmt: skip


def local_name(fakes: SeededFaker, locale: str, slot: int, item: int) -> str | None:
    """Product `slot`'s name in the locale's language (item number `item`), or None where
    Faker has no colour names in it. Built once per product slot: one Faker call."""
    nouns = _NOUNS.get(locale[:2])
    if nouns is None:
        return None
    colour = fakes.at("product-colour", slot, lambda fake: fake.color_name())
    return f"{nouns[item]} {colour}"
