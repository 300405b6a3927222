// Lists of the Connectors API and of class API plugins (pure): `{"listMeta":{"totalItems":N},"items":[…]}`,
// paginated by the query parameters `page` (from 1) and `itemsPerPage`. Without them a list is given whole;
// `itemsPerPage` alone gives its first page; a page past the end is empty (totalItems still says how many).

export interface ListPage<T> {
  listMeta: { totalItems: number };
  items: T[];
}

export interface Pagination {
  page: number;
  /** undefined: every item. */
  itemsPerPage?: number;
}

export class PaginationError extends Error {
  override name = 'PaginationError';
}

const POSITIVE_INT = /^[1-9][0-9]{0,8}$/;

/** `page` and `itemsPerPage` of a query; throws PaginationError naming a value that is not a whole number ≥ 1. */
export function parsePagination(query: URLSearchParams): Pagination {
  const out: Pagination = { page: 1 };
  for (const name of ['page', 'itemsPerPage'] as const) {
    const values = query.getAll(name);
    if (values.length === 0) continue;
    if (values.length > 1) throw new PaginationError(`query parameter ${name} is given ${values.length} times`);
    const v = values[0].trim();
    if (!POSITIVE_INT.test(v))
      throw new PaginationError(
        `query parameter ${name} must be a whole number from 1, got ${JSON.stringify(values[0])}`,
      );
    if (name === 'page') out.page = Number(v);
    else out.itemsPerPage = Number(v);
  }
  return out;
}

export function paginate<T>(items: T[], p: Pagination): ListPage<T> {
  if (p.itemsPerPage === undefined) return { listMeta: { totalItems: items.length }, items: p.page === 1 ? items : [] };
  const start = (p.page - 1) * p.itemsPerPage;
  return { listMeta: { totalItems: items.length }, items: items.slice(start, start + p.itemsPerPage) };
}
