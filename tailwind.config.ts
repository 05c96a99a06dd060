import type { Config } from "tailwindcss";

/** Tailwind v3: compiled by scripts/build-assets.ts from the classes used in templates/ and src/. */
export default {
  // app.js builds an alert element client-side, so its classes must be compiled too.
  content: ["./templates/**/*.{ts,tsx}", "./src/**/*.{ts,tsx}", "./public/static/js/**/*.js"],
  theme: {
    extend: {},
  },
  plugins: [],
} satisfies Config;
