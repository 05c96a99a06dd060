import type { Child } from "hono/jsx";
import { cx } from "./cx";

export type Column<Row> = {
  header: string;
  cell: (row: Row) => Child;
  /** Extra classes for this column's cells (e.g. "text-right", "hidden sm:table-cell"). */
  class?: string;
};

export type TableProps<Row> = {
  columns: Column<Row>[];
  rows: readonly Row[];
  /** Visible caption, or with `captionHidden` one only screen readers get. */
  caption?: string;
  captionHidden?: boolean;
  /** Shown instead of the table when there are no rows (e.g. an EmptyState). */
  empty?: Child;
  /** A stable key per row, rendered as `data-key` (for htmx swaps and tests). */
  rowKey?: (row: Row) => string;
  id?: string;
};

/** A data table that scrolls horizontally on narrow screens instead of breaking the layout. */
export function Table<Row>(props: TableProps<Row>) {
  if (props.rows.length === 0 && props.empty !== undefined) return <>{props.empty}</>;
  return (
    <div class="overflow-x-auto rounded-lg bg-white shadow-sm ring-1 ring-gray-200">
      <table id={props.id} class="min-w-full divide-y divide-gray-200 text-sm">
        {props.caption ? (
          <caption
            class={cx(
              "px-4 py-2 text-left text-sm font-medium text-gray-700",
              props.captionHidden && "sr-only",
            )}
          >
            {props.caption}
          </caption>
        ) : null}
        <thead class="bg-gray-50">
          <tr>
            {props.columns.map((col) => (
              <th
                scope="col"
                class={cx("px-4 py-2 text-left font-semibold text-gray-900", col.class)}
              >
                {col.header}
              </th>
            ))}
          </tr>
        </thead>
        <tbody class="divide-y divide-gray-100">
          {props.rows.map((row) => (
            <tr data-key={props.rowKey?.(row)}>
              {props.columns.map((col) => (
                <td class={cx("whitespace-nowrap px-4 py-2 text-gray-700", col.class)}>
                  {col.cell(row)}
                </td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
