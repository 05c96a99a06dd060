/**
 * Serial console output as text people can read on a page: no terminal escapes (colours, cursor
 * moves) and no control characters but \n and \t. The agent cleans before sending and the control
 * plane again on receipt, so an older or odd agent cannot put them on a page either.
 */

// biome-ignore lint/suspicious/noControlCharactersInRegex: matching ESC/BEL is the point.
const ANSI = /\u001b(?:\[[0-?]*[ -/]*[@-~]|\][^\u0007\u001b]*(?:\u0007|\u001b\\)?|[@-Z\\-_c])/g;
// biome-ignore lint/suspicious/noControlCharactersInRegex: removing them is the point.
const CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f]/g;

export function cleanConsoleText(text: string): string {
  // Escapes first, so their parameters ("[0;32m") do not stay behind.
  return text.replace(ANSI, "").replace(CONTROL, "");
}
