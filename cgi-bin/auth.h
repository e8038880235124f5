/*
 * auth: who is calling and may they; logins, tenant tokens, the audit
 * log (auth.c).
 */
#ifndef MTM_API_AUTH_H
#define MTM_API_AUTH_H

#include "api.h"

/*
 * Checks the request's token against the route's access rule and sets the
 * database scope. Returns 0, or the error (401, 403, 503) with t->fault filled.
 */
int api_authorize(struct api_thread *t, struct mtm_request *r, enum api_access access);
/* Records an admin action (failures are logged, never fatal). detail may be NULL. */
void api_audit(struct api_thread *t, struct mtm_request *r, const char *actor, const char *action,
               const char *target, struct json_object *detail);

/* Handlers. */
int api_login(struct api_thread *t, struct mtm_request *r);
int api_tokens_create(struct api_thread *t, struct mtm_request *r);
int api_tokens_list(struct api_thread *t, struct mtm_request *r);
int api_tokens_revoke(struct api_thread *t, struct mtm_request *r);
int api_audit_list(struct api_thread *t, struct mtm_request *r);

#endif
