/*
 * chanslots: which channel numbers of one shared broker connection are
 * taken, and in what state each is on the wire.
 *
 * A shared connection (mux.h) carries one channel per consumer. A channel
 * number can be given to a new consumer only once the broker has forgotten
 * the old channel of that number: after channel.close-ok, or when the
 * connection itself was lost. Reusing it any earlier would make the broker
 * close the whole connection (CHANNEL_ERROR), so each slot keeps three
 * facts apart:
 *
 *   owner    the consumer holding the number (NULL: none)
 *   wire     channel.open was sent and the broker has not closed it
 *   closing  we sent channel.close and wait for its close-ok
 *
 * A slot is free when it has no owner, is not open on the wire and is not
 * closing. Wanting a channel closed and having sent channel.close are two
 * steps (an owner that leaves asks; the I/O thread sends): a broker close
 * that comes between them settles it, and no channel.close is sent after
 * (the broker would take it for a new channel). An owner that leaves a slot open on the wire turns
 * it into a closing one (the caller sends channel.close); the broker's close-ok frees it. epoch
 * grows at every take, so a request made for an earlier owner (an ack, an open) is recognised and
 * dropped.
 *
 * Not locked: the shared connection's mutex covers it (mux.c). No I/O.
 */
#ifndef MTM_CONSUMERD_CHANSLOTS_H
#define MTM_CONSUMERD_CHANSLOTS_H

#include <stdbool.h>
#include <stdint.h>

struct chanslot {
    void *owner; /* borrowed */
    bool wire;
    bool closing;    /* we want it closed */
    bool close_sent; /* and channel.close went out */
    uint64_t epoch;
};

struct chanslots {
    struct chanslot *s; /* owned; n entries, s[i] is channel first + i */
    int n;
    uint16_t first; /* the lowest channel number handed out */
    int used;       /* slots that are not free */
};

void chanslots_init(struct chanslots *cs, uint16_t first, int n);
void chanslots_cleanup(struct chanslots *cs);

/* Gives the lowest free channel number to owner (never NULL) and its epoch;
 * 0 when every slot is taken. */
uint16_t chanslots_take(struct chanslots *cs, void *owner, uint64_t *epoch);
/* The slot of channel ch, or NULL when ch is not one of ours. */
struct chanslot *chanslots_get(struct chanslots *cs, uint16_t ch);
/* The owner of ch if it holds epoch; NULL otherwise. */
void *chanslots_owner(struct chanslots *cs, uint16_t ch, uint64_t epoch);
/* True (and wire set) when channel.open may be sent for (ch, epoch) now. */
bool chanslots_open(struct chanslots *cs, uint16_t ch, uint64_t epoch);
/* True when a frame for an open channel (an ack) may be sent for (ch, epoch). */
bool chanslots_usable(struct chanslots *cs, uint16_t ch, uint64_t epoch);
/* The owner leaves ch. True when a channel.close must be sent for it
 * (queue it: chanslots_send_close decides when it goes). */
bool chanslots_release(struct chanslots *cs, uint16_t ch);
/* True (and close_sent set) when channel.close may go out for ch now: it is
 * wanted (release or a cancelled consumer), open, not sent yet, and the
 * slot is still the one of epoch (0: any). */
bool chanslots_send_close(struct chanslots *cs, uint16_t ch, uint64_t epoch);
/* We want ch closed (its consumer was cancelled); then chanslots_send_close. */
void chanslots_want_close(struct chanslots *cs, uint16_t ch);
/* The epoch of ch (0 when ch is not ours). */
uint64_t chanslots_epoch(struct chanslots *cs, uint16_t ch);
/* The broker closed ch (we answer close-ok); returns its owner, if any. */
void *chanslots_closed_by_broker(struct chanslots *cs, uint16_t ch);
/* channel.close-ok for our close arrived. */
void chanslots_close_ok(struct chanslots *cs, uint16_t ch);
/* The connection is gone: nothing is open or closing any more; owners keep
 * their slots until they release them. */
void chanslots_reset(struct chanslots *cs);
/* Free slots. */
int chanslots_free(const struct chanslots *cs);

#endif
