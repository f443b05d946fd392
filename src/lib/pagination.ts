/** The page/offset list shape of DESIGN §3: `{ items, total, page, pageSize, totalPages }`. */
export interface Page<T> {
  items: T[];
  total: number;
  page: number;
  pageSize: number;
  totalPages: number;
}

export interface PageRequest {
  page: number;
  pageSize: number;
}

export function offsetOf(request: PageRequest): number {
  return (request.page - 1) * request.pageSize;
}

/** `total` as Postgres counted it (int or text, depending on the cast). */
export function toPage<T>(items: T[], total: number | string | undefined, request: PageRequest): Page<T> {
  const count = Number(total ?? 0);
  return {
    items,
    total: count,
    page: request.page,
    pageSize: request.pageSize,
    totalPages: Math.ceil(count / request.pageSize),
  };
}
