import { Button, ButtonLink } from "../../components/button";
import { Card } from "../../components/card";
import { CsrfInput } from "../../components/form";

export type InvitationView = { orgName: string; role: string; email: string; secret: string };

/** An invitation link: accept it when signed in, otherwise create an account or sign in first. */
export function InvitationPage(props: {
  invitation: InvitationView;
  signedInAs?: { email: string; csrfToken: string } | undefined;
}) {
  const inv = props.invitation;
  const here = `/invitations/${inv.secret}`;
  return (
    <Card title={`Invitation to ${inv.orgName}`}>
      <p class="mb-4 text-sm text-gray-700">
        You are invited to join <strong>{inv.orgName}</strong> as <strong>{inv.role}</strong> (
        {inv.email}).
      </p>
      {props.signedInAs ? (
        <form method="post" action={`${here}/accept`}>
          <CsrfInput token={props.signedInAs.csrfToken} />
          <p class="mb-4 text-sm text-gray-600">Signed in as {props.signedInAs.email}.</p>
          <Button>Accept invitation</Button>
        </form>
      ) : (
        <div class="flex flex-wrap gap-2">
          <ButtonLink href={`/sign-up?invitation=${encodeURIComponent(inv.secret)}`}>
            Create an account
          </ButtonLink>
          <ButtonLink variant="secondary" href={`/sign-in?next=${encodeURIComponent(here)}`}>
            I already have an account
          </ButtonLink>
        </div>
      )}
    </Card>
  );
}
