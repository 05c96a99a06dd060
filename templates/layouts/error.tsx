import { ErrorPanel, type ProblemView } from "../components/alert";

/** The body of a whole-page error (inside the bare layout): the problem and a way back. */
export function ErrorPageBody(props: { problem: ProblemView }) {
  return (
    <>
      <ErrorPanel problem={props.problem} />
      <p class="mt-6 text-center text-sm">
        <a href="/" class="font-medium text-indigo-700 hover:underline">
          Back to the console
        </a>
      </p>
    </>
  );
}
