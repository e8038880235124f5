/* chanslots: see chanslots.h. */
#include "chanslots.h"

#include <stdlib.h>

#include "xalloc.h"

static bool is_free(const struct chanslot *s)
{
    return !s->owner && !s->wire && !s->closing;
}

/* Keeps cs->used right after slot s changed from was_free. */
static void account(struct chanslots *cs, const struct chanslot *s, bool was_free)
{
    bool now = is_free(s);
    if (was_free && !now)
        cs->used++;
    else if (!was_free && now)
        cs->used--;
}

void chanslots_init(struct chanslots *cs, uint16_t first, int n)
{
    cs->s = xcalloc((size_t)n, sizeof(*cs->s));
    cs->n = n;
    cs->first = first;
    cs->used = 0;
}

void chanslots_cleanup(struct chanslots *cs)
{
    free(cs->s);
    cs->s = NULL;
    cs->n = cs->used = 0;
}

struct chanslot *chanslots_get(struct chanslots *cs, uint16_t ch)
{
    if (ch < cs->first || ch - cs->first >= cs->n)
        return NULL;
    return &cs->s[ch - cs->first];
}

uint16_t chanslots_take(struct chanslots *cs, void *owner, uint64_t *epoch)
{
    for (int i = 0; i < cs->n; i++) {
        struct chanslot *s = &cs->s[i];
        if (!is_free(s))
            continue;
        s->owner = owner;
        s->epoch++;
        *epoch = s->epoch;
        cs->used++;
        return (uint16_t)(cs->first + i);
    }
    return 0;
}

void *chanslots_owner(struct chanslots *cs, uint16_t ch, uint64_t epoch)
{
    struct chanslot *s = chanslots_get(cs, ch);
    return s && s->owner && s->epoch == epoch ? s->owner : NULL;
}

bool chanslots_open(struct chanslots *cs, uint16_t ch, uint64_t epoch)
{
    struct chanslot *s = chanslots_get(cs, ch);
    if (!s || !s->owner || s->epoch != epoch || s->wire || s->closing)
        return false;
    s->wire = true;
    return true;
}

bool chanslots_usable(struct chanslots *cs, uint16_t ch, uint64_t epoch)
{
    struct chanslot *s = chanslots_get(cs, ch);
    return s && s->owner && s->epoch == epoch && s->wire && !s->closing;
}

bool chanslots_release(struct chanslots *cs, uint16_t ch)
{
    struct chanslot *s = chanslots_get(cs, ch);
    if (!s || !s->owner)
        return false;
    s->owner = NULL;
    bool send_close = s->wire && !s->closing;
    if (s->wire)
        s->closing = true;
    account(cs, s, false);
    return send_close;
}

bool chanslots_send_close(struct chanslots *cs, uint16_t ch, uint64_t epoch)
{
    struct chanslot *s = chanslots_get(cs, ch);
    if (!s || (epoch && s->epoch != epoch) || !s->wire || !s->closing || s->close_sent)
        return false;
    s->close_sent = true;
    return true;
}

void chanslots_want_close(struct chanslots *cs, uint16_t ch)
{
    struct chanslot *s = chanslots_get(cs, ch);
    if (s && s->wire)
        s->closing = true;
}

uint64_t chanslots_epoch(struct chanslots *cs, uint16_t ch)
{
    struct chanslot *s = chanslots_get(cs, ch);
    return s ? s->epoch : 0;
}

void *chanslots_closed_by_broker(struct chanslots *cs, uint16_t ch)
{
    struct chanslot *s = chanslots_get(cs, ch);
    if (!s)
        return NULL;
    bool was_free = is_free(s);
    /* Our close went out already (the two closes crossed): the broker
     * still answers it with close-ok, which frees the slot. Otherwise the
     * channel is gone, and a close we meant to send must not go. */
    if (!s->close_sent) {
        s->wire = false;
        s->closing = false;
    }
    account(cs, s, was_free);
    return s->owner;
}

void chanslots_close_ok(struct chanslots *cs, uint16_t ch)
{
    struct chanslot *s = chanslots_get(cs, ch);
    if (!s)
        return;
    bool was_free = is_free(s);
    s->closing = false;
    s->close_sent = false;
    s->wire = false;
    account(cs, s, was_free);
}

void chanslots_reset(struct chanslots *cs)
{
    for (int i = 0; i < cs->n; i++) {
        struct chanslot *s = &cs->s[i];
        bool was_free = is_free(s);
        s->wire = false;
        s->closing = false;
        s->close_sent = false;
        account(cs, s, was_free);
    }
}

int chanslots_free(const struct chanslots *cs)
{
    return cs->n - cs->used;
}
