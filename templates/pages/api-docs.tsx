/** The API reference page: Swagger UI, served from our own origin, reading our OpenAPI document. */
export function ApiDocsPage(props: { specUrl: string; version: string }) {
  return (
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <title>Strato API {props.version}</title>
        <link rel="icon" href="/static/favicon.svg" type="image/svg+xml" />
        <link rel="stylesheet" href="/static/vendor/swagger-ui/swagger-ui.css" />
      </head>
      <body>
        <div id="swagger-ui" data-spec-url={props.specUrl} />
        <script src="/static/vendor/swagger-ui/swagger-ui-bundle.js" />
        <script src="/static/api-docs.js" />
      </body>
    </html>
  );
}
