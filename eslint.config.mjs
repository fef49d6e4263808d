// ESLint (typescript-eslint's recommended rules, and the type-aware rule that
// catches a promise nobody awaits) for every TypeScript file; formatting is
// Prettier's job. npm run lint (scripts/lint.sh) runs both, the import floors
// (scripts/check-imports.ts) and shellcheck, with zero warnings.
import js from "@eslint/js";
import tseslint from "typescript-eslint";

export default tseslint.config(
  {
    ignores: [
      "node_modules/**",
      "toolchain/**",
      ".pulumi-state/**",
      ".pulumi-home/**",
      "dist/**",
      "bench/runs/**",
      "**/*.mjs",
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ["**/*.ts"],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      // Provider code runs in Pulumi's dynamic-provider host, which serializes
      // functions: node built-ins are required inside them on purpose.
      "@typescript-eslint/no-require-imports": "off",
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      "@typescript-eslint/no-floating-promises": "error",
      eqeqeq: ["error", "always"],
      "no-console": "off",
    },
  },
  {
    // Tests read untyped JSON (REST API answers, stack outputs).
    files: ["**/*.test.ts", "test/**/*.ts"],
    rules: { "@typescript-eslint/no-explicit-any": "off" },
  },
);
