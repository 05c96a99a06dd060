/** Permify schema files, bundled as text by wrangler's `Text` rule (see wrangler.toml). */
declare module "*.perm" {
  const text: string;
  export default text;
}
