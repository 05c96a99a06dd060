import { Badge } from "../../components/badge";
import { Button } from "../../components/button";
import { Card, PageHeader } from "../../components/card";
import { CsrfInput } from "../../components/form";
import { Table } from "../../components/table";

export type SessionView = {
  id: string;
  current: boolean;
  userAgent: string;
  ip: string;
  createdAt: string;
  lastSeenAt: string;
};

/** Where one is signed in; any session but this one can be ended here. */
export function SessionsPage(props: { sessions: SessionView[]; csrfToken: string }) {
  return (
    <div class="space-y-6">
      <PageHeader title="Sessions" description="Browsers signed in to your account." />
      <Card>
        <Table
          id="sessions"
          caption="Your sessions"
          captionHidden
          rows={props.sessions}
          rowKey={(s) => s.id}
          columns={[
            {
              header: "Browser",
              cell: (s) => (
                <span class="break-all">
                  {s.userAgent || "unknown"}{" "}
                  {s.current ? <Badge tone="green">this browser</Badge> : null}
                </span>
              ),
            },
            { header: "Address", cell: (s) => s.ip, class: "hidden sm:table-cell" },
            { header: "Signed in", cell: (s) => s.createdAt, class: "hidden sm:table-cell" },
            { header: "Last active", cell: (s) => s.lastSeenAt },
            {
              header: "",
              class: "text-right",
              cell: (s) =>
                s.current ? null : (
                  <form method="post" action={`/account/sessions/${s.id}/revoke`}>
                    <CsrfInput token={props.csrfToken} />
                    <Button size="sm" variant="danger">
                      Sign out
                    </Button>
                  </form>
                ),
            },
          ]}
        />
      </Card>
    </div>
  );
}
