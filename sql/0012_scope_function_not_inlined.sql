-- The planner inlined mtm_scope_allows and then guessed that the
-- row-security filter keeps 0.5 % of a tenant's rows; for mid-sized
-- tenants (tens of thousands of rows) it chose a sequential scan and sort
-- over the (tenant_id, seq) index, a first page 90 times slower than a deep
-- one (measured by make bench). A function with its own settings is never
-- inlined, so the filter is costed as an opaque qual and the index is used.
ALTER FUNCTION mtm_scope_allows(uuid) SET search_path = pg_catalog;
