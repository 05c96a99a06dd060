import { Alert, type Tone } from "./alert";

/** A one-time message shown on the next page (see src/web/flash.ts). */
export type Flash = { kind: Tone; message: string };

/** The flash messages of a page; the text is escaped like any other JSX child. */
export function FlashMessages(props: { flashes: readonly Flash[] }) {
  if (props.flashes.length === 0) return null;
  return (
    <div class="space-y-2">
      {props.flashes.map((f) => (
        <Alert tone={f.kind} attrs={{ "data-flash": f.kind }}>
          {f.message}
        </Alert>
      ))}
    </div>
  );
}
