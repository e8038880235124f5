/* promtext: see promtext.h. */
#include "promtext.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "xalloc.h"

struct mtm_promtext_family {
    char *name;          /* owned; "" for lines outside any family */
    struct mtm_buf head; /* HELP and TYPE, from the first text that had them */
    struct mtm_buf body; /* samples */
};

void mtm_promtext_init(struct mtm_promtext *m, size_t limit)
{
    memset(m, 0, sizeof(*m));
    m->limit = limit;
}

void mtm_promtext_cleanup(struct mtm_promtext *m)
{
    for (size_t i = 0; i < m->n; i++) {
        free(m->families[i].name);
        mtm_buf_cleanup(&m->families[i].head);
        mtm_buf_cleanup(&m->families[i].body);
    }
    free(m->families);
    memset(m, 0, sizeof(*m));
}

static struct mtm_promtext_family *family(struct mtm_promtext *m, const char *name, size_t len,
                                          bool *fresh)
{
    for (size_t i = 0; i < m->n; i++)
        if (strlen(m->families[i].name) == len && memcmp(m->families[i].name, name, len) == 0) {
            *fresh = false;
            return &m->families[i];
        }
    if (m->n == m->cap) {
        m->cap = m->cap ? 2 * m->cap : 16;
        m->families = xrealloc(m->families, m->cap * sizeof(*m->families));
    }
    struct mtm_promtext_family *f = &m->families[m->n++];
    f->name = xstrndup(name, len);
    mtm_buf_init(&f->head, m->limit);
    mtm_buf_init(&f->body, m->limit);
    *fresh = true;
    return f;
}

/* The metric name after "# HELP " or "# TYPE " in line (length n), or NULL. */
static const char *comment_name(const char *line, size_t n, const char *kind, size_t *namelen)
{
    size_t k = strlen(kind);
    if (n <= k || memcmp(line, kind, k) != 0)
        return NULL;
    const char *name = line + k;
    size_t i = 0;
    while (k + i < n && name[i] != ' ')
        i++;
    *namelen = i;
    return i ? name : NULL;
}

int mtm_promtext_add(struct mtm_promtext *m, const char *text, size_t len)
{
    if (m->len + len > m->limit)
        return MTM_ETOOBIG;
    struct mtm_promtext_family *cur = NULL;
    bool fresh = false;
    for (size_t at = 0; at < len;) {
        const char *line = text + at;
        const char *nl = memchr(line, '\n', len - at);
        size_t n = nl ? (size_t)(nl - line) : len - at;
        at += n + 1;
        if (n == 0)
            continue;
        size_t namelen;
        const char *name = comment_name(line, n, "# HELP ", &namelen);
        if (name)
            cur = family(m, name, namelen, &fresh);
        else if (!cur)
            cur = family(m, "", 0, &fresh);
        bool head = name || comment_name(line, n, "# TYPE ", &namelen);
        if (head && !fresh)
            continue; /* the first text's HELP and TYPE stand */
        if (line[0] == '#' && !head && cur->name[0])
            continue; /* other comments are not kept inside a family */
        struct mtm_buf *to = head ? &cur->head : &cur->body;
        int rc = mtm_buf_append(to, line, n);
        rc = rc ? rc : mtm_buf_append(to, "\n", 1);
        if (rc)
            return rc;
        m->len += n + 1;
    }
    return 0;
}

int mtm_promtext_render(const struct mtm_promtext *m, struct mtm_buf *out)
{
    int rc = 0;
    for (size_t i = 0; !rc && i < m->n; i++) {
        rc = mtm_buf_append(out, m->families[i].head.data ? m->families[i].head.data : "",
                            m->families[i].head.len);
        rc = rc ? rc
                : mtm_buf_append(out, m->families[i].body.data ? m->families[i].body.data : "",
                                 m->families[i].body.len);
    }
    return rc;
}
