"""Phrase rules read after the intent head: kinds of request the head confuses on scenarios it was not taught.

The head (embeddings + char n-grams) reads what a message is *about*; on new scenarios it confused requests whose
topic points one way and whose ask points another (the sixteenth session's held-out sets, docs/measurements.md):

- "No worries, I sorted it myself. You can close this one." read as ``cancel_order`` (a sensitive intent, high
  priority): a message that says the matter is settled asks for nothing (:func:`settled`);
- "The product page said 49.99 but I was charged 54.99" read as ``discount_promo``: a price, a charge and no
  code, voucher or sale is a billing question (:func:`charge_without_promo`);
- "How do I add a second delivery address to my account?" read as ``change_order``: the account named and no
  order is an account change (:func:`account_without_order`);
- "The wardrobe delivery is booked for the 14th, can we move it to the 21st?" read as ``order_status``: a delivery
  moved or held is a change to the order (:func:`delivery_moved`).

Each rule only moves the head's reading between the two intents it confused (never to or from any other), on the
folded text of :func:`pipeline.folding.normalize_for_matching` (no markup, accents, look-alike letters or invisible
characters), in EN/FR/ES/DE/IT/NL/PT. The settled rule makes a message out of scope, never an intent, and gives
way to anything that still asks for something (a cancellation, a refund, a return, the account, a question, a
condition such as "once the refund is there", a negation such as "don't close it"). Regex only: no model pass.
"""

from __future__ import annotations

import re
from collections.abc import Collection

from pipeline.folding import normalize_for_matching

__all__ = ["account_without_order", "adjust", "cancels_the_order", "charge_without_promo", "delivery_moved", "settled"]


# The rules read the opening of the message, where the customer says what they want (like sentiment's and language's
# 2,000 characters): a 20,000-character message cost 9 ms of regex, its first 2,000 characters under 1 ms.
RULE_CHARS = 2_000


def _rx(*parts: str) -> re.Pattern[str]:
    return re.compile("|".join(f"(?:{p})" for p in parts))


# ------------------------------------------------------------------ settled: nothing left to do

# "You can close this (one / ticket / request)", "sorted it myself", "please ignore this": the matter is settled.
_CLOSE_OBJ = (r"(?:this|it|that|the (?:ticket|case|request|conversation|chat)|this (?:one|ticket|case|request|"
              r"conversation))")
_SETTLED = _rx(
    # EN
    r"\b(?:you can|feel free to|please|go ahead and) close " + _CLOSE_OBJ + r"\b",
    r"\bclose (?:the|this|my) (?:ticket|case|request)\b",
    r"\bsorted (?:it|this|everything)? ?(?:out )?(?:myself|ourselves|in the end)\b",
    r"\b(?:fixed|solved|resolved|figured) (?:it|this)? ?(?:out )?(?:myself|ourselves|in the end)\b",
    r"\b(?:please )?(?:ignore|disregard) (?:this|my (?:last |previous |earlier )?(?:message|email|mail))\b",
    r"\bnever ?mind (?:my (?:last |previous )?(?:message|email))?\b",
    # FR
    r"\bvous pouvez (?:cloturer|fermer|clore)\b", r"\b(?:cloturer|fermer|clore) (?:le|ce) (?:ticket|dossier)\b",
    r"\bregle (?:ca |le probleme |tout )?(?:moi-meme|moi meme|tout seul|toute seule)\b",
    r"\b(?:ignorez|oubliez) (?:ce|mon) (?:dernier )?(?:message|mail)\b",
    # ES
    r"\b(?:podeis|pueden|puede) cerrar\b", r"\bcerrar (?:el|este) (?:ticket|caso|incidencia)\b",
    r"\b(?:solucionado|resuelto|arreglado) (?:yo )?(?:solo|sola|por mi cuenta|yo mism[oa])\b",
    r"\b(?:ignorad|ignoren|olvidad|olviden) (?:esto|este mensaje|mi (?:ultimo )?mensaje)\b",
    # DE
    r"\b(?:ihr konnt|sie konnen|du kannst) (?:das|es|den fall|das ticket|die anfrage) (?:gerne |ruhig )?schliessen\b",
    r"\bselbst (?:hingekriegt|hinbekommen|gelost|geklart|geregelt)\b",
    r"\bbitte ignorieren\b", r"\b(?:ignoriert|vergesst|ignorieren sie|vergessen sie) (?:das|meine (?:letzte )?nachricht)\b",
    # IT
    r"\bpotete (?:pure )?chiudere\b", r"\bchiudere (?:il|questo) (?:ticket|caso)\b",
    r"\brisolto da (?:solo|sola|me)\b", r"\b(?:ignorate|dimenticate) (?:pure\b|questo|il mio (?:ultimo )?messaggio)",
    # NL
    r"\b(?:jullie|u|je) (?:mag|mogen|kunt|kan|kunnen) (?:het|dit|deze|dat|het ticket|de vraag) (?:gerust )?sluiten\b",
    r"\bzelf (?:opgelost|geregeld|gefixt)\b", r"\bnegeer (?:dit|mijn (?:vorige |laatste )?bericht)\b",
    # PT
    r"\b(?:podem|pode) (?:encerrar|fechar)\b", r"\b(?:encerrar|fechar) (?:o|este|esse) (?:chamado|ticket|caso)\b",
    r"\bresolvi (?:sozinh[oa]|por conta propria)\b",
    r"\b(?:ignorem|ignore|esquecam|esquece) (?:isso|isto|essa mensagem|minha (?:ultima )?mensagem)\b",
)
# Still asks for something: cancel / refund / return / exchange / the account; an order or account to close;
# a question; a condition ("once the refund is there"); a negation ("don't close it").
_STILL_ASKS = _rx(
    r"\b(?:cancel\w*|annul\w*|storn\w*|annuleer\w*|anul\w*|refund\w*|rembours\w*|reembols\w*|erstatt\w*|rimbors\w*"
    r"|terugbetal\w*|estorn\w*|return\w*|retour\w*|renvo\w*|devol\w*|zuruck\w*|reso|rendere|restitu\w*|terugstur\w*"
    r"|exchange|echange\w*|cambi\w*|umtausch\w*|ruil\w*|troca\w*|trocar)\b",
    r"\b(?:account|compte|cuenta|konto|kundenkonto|profil\w*|profile|perfil|profiel|conta|unsubscribe|desinscri\w*)\b",
    r"\?",
    r"\b(?:once|when|as soon as|until|unless|if|quand|lorsque|des que|si|cuando|en cuanto|hasta que|wenn|sobald"
    r"|falls|bis|quando|appena|finche|se|zodra|wanneer|als|tenzij|totdat|assim que|ate que)\b",
    r"\b(?:don'?t|do not|not yet|ne (?:\w+ )?pas|no (?:cerreis|cierren|cierres)|nicht|non (?:chiudete|chiudere)"
    r"|niet|nao|ainda nao|pas encore|todavia no|aun no|noch nicht|non ancora|nog niet)\b",
)


# "No worries", "don't worry": a negation that asks for nothing, taken out before the veto reads the text.
_NO_WORRIES = _rx(
    r"\b(?:no worries|don'?t worry|not to worry|no problem|pas de (?:souci|soucis|probleme)|ne vous inquietez pas"
    r"|no (?:os|se) preocup\w*|no pasa nada|kein (?:stress|problem)|keine sorge|nessun problema|non preoccupatevi"
    r"|geen (?:zorgen|probleem)|maak je geen zorgen|sem problema|nao se preocupe\w*|nao esquent\w*)\b",
)


def settled(norm: str) -> bool:
    """The folded text says the matter is settled and asks for nothing more (module docstring)."""
    return bool(_SETTLED.search(norm)) and not _STILL_ASKS.search(_NO_WORRIES.sub(" ", norm))


# ------------------------------------------------------------------ billing: a price and a charge, no promotion

_CHARGED = _rx(
    r"\b(?:charged|debited|taken|billed|paid|charge of)\b",
    r"\b(?:debite\w*|preleve\w*|prelevement|facture\w*|paye)\b",
    r"\b(?:cobra\w*|cargo|cargad\w*|pague|pagado)\b",
    r"\b(?:abgebucht|belastet|berechnet|bezahlt|abbuchung)\b",
    r"\b(?:addebit\w*|pagato|pagat[oi]|prelevat\w*)\b",
    r"\b(?:afgeschreven|afschrijving|betaald|gerekend|in rekening)\b",
    r"\b(?:cobra\w*|cobranca|debitad\w*|paguei|pago)\b",
)
_AMOUNT = re.compile(r"(?:\d+[.,]\d{2}\b|\d+\s?(?:€|\$|£|eur\b|euros?\b|reais\b|r\$)|(?:€|\$|£|r\$)\s?\d+)")
_PROMO = _rx(
    r"\b(?:code|codes|coupon\w*|voucher\w*|discount\w*|promo\w*|sale|sales|offer\w*|deal|black friday|gift card"
    r"|reduc\w*|remise|bon d'achat|bon de reduction|soldes|descuento\w*|cupon\w*|oferta\w*|rebajas|rabatt\w*"
    r"|gutschein\w*|angebot\w*|aktion|sconto|sconti|buono|offerta|saldi|korting\w*|kortingscode|actie|uitverkoop"
    r"|desconto\w*|cupom|cupons|liquidacao)\b",
    # a newsletter's or an ad's promise ("the newsletter said free shipping all week, yet 5.90 was charged")
    r"\b(?:newsletter|nieuwsbrief|boletin|infolettre|lettre d'information|werbung|advert\w*|anuncio|annuncio|pubblicita"
    r"|publicite|reclame|propaganda)\b",
    r"%",
)


def charge_without_promo(norm: str) -> bool:
    """An amount and a word for money taken, and no code, voucher, sale or percentage: a billing question."""
    return bool(_CHARGED.search(norm) and _AMOUNT.search(norm)) and not _PROMO.search(norm)


# ------------------------------------------------------------------ account change: the account named, no order

_ACCOUNT = _rx(
    r"\b(?:(?:my|your|the|customer) (?:account|profile)|account settings|address book)\b",
    r"\b(?:mon|ton|votre|le) (?:compte|profil)\b|\bcarnet d'adresses\b",
    r"\b(?:mi|tu|su|la) (?:cuenta|perfil)\b|\blibreta de direcciones\b",
    r"\b(?:mein\w*|dein\w*|ihr\w*|im|das|euer\w*) (?:kunden)?(?:konto|profil)\b|\badressbuch\b",
    r"\b(?:mio|il mio|nel mio|dal mio|l'|sul mio|nell') ?(?:account|profilo)\b|\brubrica\b",
    r"\b(?:mijn|jullie|het|uw) (?:account|profiel)\b|\badresboek\b",
    r"\b(?:minha|na minha|da minha|a) conta\b|\b(?:meu|no meu) perfil\b",
)
_ORDER_NOUN = re.compile(r"\b(?:orders?|commandes?|pedidos?|encomendas?|bestellung(?:en)?|bestelling(?:en)?|ordin[ei]"
                         r"|parcel|colis|paquete|paket|pacco|pakket|pacote)\b")


def account_without_order(norm: str) -> bool:
    """The account or profile is named and no order or parcel is: an account change, not an order change."""
    return bool(_ACCOUNT.search(norm)) and not _ORDER_NOUN.search(norm)


# ------------------------------------------------------------------ change order: a delivery moved or held

_MOVE = _rx(
    # EN: the request forms ("move it to", "reschedule", "hold my order"), not "it was moved" or "postponed"
    r"\b(?:move|push|shift|reschedule|postpone|delay) (?:it|the delivery|delivery|my delivery|the date|it back)\b",
    r"\b(?:hold|keep) (?:on to )?(?:my|the) (?:order|parcel|delivery)\b", r"\bhold (?:it|them) (?:back|until)\b",
    # FR
    r"\b(?:decaler|reporter|repousser|avancer) (?:la livraison|la date|le rendez-vous)\b",
    r"\b(?:la|le) (?:decaler|reporter|repousser|avancer)\b",
    r"\bgarder (?:ma|la) commande\b", r"\bmettre (?:ma|la) commande en attente\b",
    # ES
    r"\b(?:pasar|cambiar|mover|aplazar|retrasar|adelantar)(?:la|lo)? (?:al|para el|la entrega|la fecha)\b",
    r"\b(?:guardar|retener) (?:mi|el) pedido\b",
    # DE
    r"\b(?:verschieben|verlegen)\b", r"\b(?:zuruckhalten|zuruckstellen)\b",
    # IT
    r"\b(?:spostar(?:e|la|lo)|rimandar(?:e|la|lo)(?! indietro)|posticipar(?:e|la|lo)|anticipar(?:e|la|lo))\b",
    r"\btenere (?:fermo|da parte) (?:il mio |l')?(?:ordine|pacco)\b",
    # NL
    r"\b(?:verzetten|verplaatsen|uitstellen|vervroegen)\b", r"\b(?:vasthouden|tegenhouden)\b",
    # PT
    r"\b(?:passar|mudar|adiar|remarcar|antecipar)(?: a entrega| a data)? (?:pro|para o|pra o) dia\b",
    r"\b(?:adiar|remarcar) (?:a entrega|a data)\b", r"\bsegurar (?:a|o|minha|meu|a minha|o meu) (?:encomenda|pedido)\b",
)


def delivery_moved(norm: str) -> bool:
    """The customer asks for a delivery to be moved to another day or held: a change to the order."""
    return bool(_MOVE.search(norm))


# ------------------------------------------------------------------ cancel order: the order cancelled outright

# "cancel (my) order 40217", "annuler la commande", "bestelling 40217 nog annuleren": the order itself is cancelled.
_W2 = r"(?: [\w']+){0,2}"  # "anular todavía el pedido", "cancel still the order": up to two words between
_CANCEL_ORDER = _rx(
    r"\bcancel\w*" + _W2 + r" (?:my |the |this |that |our |your )?(?:whole |entire )?order\b",
    r"\bannul\w*" + _W2 + r" (?:ma |la |cette |notre |toute la )?commande\b", r"\bcommande\b[^.?!]{0,30}\bannul\w*",
    r"\b(?:anul|cancel)\w*" + _W2 + r" (?:mi |el |este |nuestro |todo el )?pedido\b",
    r"\bpedido\b[^.?!]{0,30}\b(?:anul|cancel)\w*",
    r"\bstorn\w*" + _W2 + r" (?:meine |die |unsere )?bestellung\b", r"\bbestellung\b[^.?!]{0,40}\bstorn\w*",
    r"\bannull\w*" + _W2 + r" (?:il mio |il |l' ?|quest' ?)?ordine\b", r"\bordine\b[^.?!]{0,30}\bannull\w*",
    r"\bannul\w*" + _W2 + r" (?:mijn |de |deze )?bestelling\b", r"\bbestelling\b[^.?!]{0,40}\bannul\w*",
    r"\bcancel\w*" + _W2 + r" (?:o |meu |o meu |a |minha |a minha |esse |este |essa |esta )?(?:pedido|encomenda)\b",
    r"\bencomenda\b[^.?!]{0,30}\bcancel\w*",
)
# A change to the order ("cancel the phone case and send the rest", "instead of"), or a negation ("don't cancel").
_CHANGE_WORDS = _rx(
    r"\b(?:chang\w*|modif\w*|swap\w*|switch\w*|replac\w*|instead|add\w*|remov\w*|take (?:off|out)|only|just|item"
    r"|items|part|one of|some of|remplac\w*|ajout\w*|retir\w*|enlev\w*|au lieu|seulement|juste|article|articles"
    r"|cambi\w*|sustitu\w*|agreg\w*|anad\w*|quit\w*|en vez|en lugar|solo|articulo|articulos|andern|aender\w*"
    r"|geandert|tausch\w*|ersetz\w*|hinzufug\w*|entfern\w*|statt|anstatt|nur|artikel|sostitu\w*|aggiung\w*"
    r"|togli\w*|invece|articol\w*|wijzig\w*|verander\w*|ruil\w*|vervang\w*|toevoeg\w*|verwijder\w*|in plaats"
    r"|alleen|troc\w*|substitu\w*|adicion\w*|tirar|tira|em vez|ao inves|so|apenas|mudar|altera\w*)\b",
    r"\b(?:not|don'?t|do not|never|pas|no|nicht|kein\w*|non|niet|nao|nunca|jamais|nie)\b",
)


def cancels_the_order(norm: str) -> bool:
    """The order itself is cancelled, with nothing to change in it and no negation: a cancellation."""
    return bool(_CANCEL_ORDER.search(norm)) and not _CHANGE_WORDS.search(norm)


# ------------------------------------------------------------------ the decision


def adjust(text: str, label: str, oos: bool, oos_intent: str = "other",
           intents: Collection[str] | None = None) -> tuple[str, bool, str | None]:
    """The head's reading (``label``, out of scope or not) after the rules → (label, out_of_scope, rule name).

    A rule only ever moves one reading to its confused partner; the settled rule only ever makes a message
    out of scope. ``intents``: the store's intents (a rule whose target intent it lacks does nothing).
    ``None`` as rule name: the head's reading stands.
    """
    norm = normalize_for_matching((text or "")[:RULE_CHARS])
    if not norm:
        return label, oos, None
    moved = _moved(norm, label, oos, oos_intent)
    if moved is None or (intents is not None and moved[0] not in intents):
        return label, oos, None
    return moved


def _moved(norm: str, label: str, oos: bool, oos_intent: str) -> tuple[str, bool, str] | None:
    if settled(norm):
        return oos_intent, True, "settled"
    if label == "discount_promo" and charge_without_promo(norm):
        return "billing", False, "charge_without_promo"
    if label == "change_order" and cancels_the_order(norm):
        return "cancel_order", False, "cancels_the_order"
    if label == "change_order" and account_without_order(norm):
        return "account_change", False, "account_without_order"
    if (label == "order_status" or oos) and label != "cancel_order" and delivery_moved(norm):
        return "change_order", False, "delivery_moved"
    return None
