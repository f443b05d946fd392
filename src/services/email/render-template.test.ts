import { describe, expect, it } from "vitest";
import { ValidationError } from "../../lib/errors";
import { checkTemplate, escapeHtml, renderTemplate } from "./render-template";

const orderShipped = {
  subject: "Your order {{ order.number }} is on its way",
  bodyText: "Hi {{customer.name}},\n\nOrder {{order.number}} ships with {{carrier}} ({{order.items}} items).",
  bodyHtml: '<p>Hi {{customer.name}},</p><p>Track it: <a href="{{trackingUrl}}">{{carrier}}</a></p>',
};

function validationDetails(fn: () => unknown): Record<string, unknown> | undefined {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(ValidationError);
    return (error as ValidationError).details;
  }
  throw new Error("expected a ValidationError");
}

describe("email templates", () => {
  it("lists the variables a template uses", () => {
    expect(checkTemplate(orderShipped)).toEqual([
      "carrier",
      "customer.name",
      "order.items",
      "order.number",
      "trackingUrl",
    ]);
  });

  it("renders subject, text and HTML; values are HTML-escaped only in the HTML part", () => {
    const rendered = renderTemplate(orderShipped, {
      customer: { name: 'Ava <Tom> & "Co"' },
      order: { number: "#1042", items: 3 },
      carrier: "UPS",
      trackingUrl: "https://track.example/1Z999?x=1&y='2'",
    });
    expect(rendered.subject).toBe("Your order #1042 is on its way");
    expect(rendered.text).toBe('Hi Ava <Tom> & "Co",\n\nOrder #1042 ships with UPS (3 items).');
    expect(rendered.html).toBe(
      "<p>Hi Ava &lt;Tom&gt; &amp; &quot;Co&quot;,</p><p>Track it: " +
        '<a href="https://track.example/1Z999?x=1&amp;y=&#39;2&#39;">UPS</a></p>',
    );
  });

  it("names every missing variable in one 422", () => {
    expect(validationDetails(() => renderTemplate(orderShipped, { carrier: "UPS" }))).toEqual({
      "variables.order.number": ["Missing: the template uses this variable"],
      "variables.customer.name": ["Missing: the template uses this variable"],
      "variables.order.items": ["Missing: the template uses this variable"],
      "variables.trackingUrl": ["Missing: the template uses this variable"],
    });
  });

  it("refuses objects as values and line breaks in values that land in the subject", () => {
    expect(
      validationDetails(() =>
        renderTemplate(
          { subject: "Order {{n}}", bodyText: "{{obj}}", bodyHtml: null },
          { n: "1\r\nBcc: victim@example.org", obj: { a: 1 } },
        ),
      ),
    ).toEqual({
      "variables.n": ["Must not contain line breaks (it is used in the subject)"],
      "variables.obj": ["Must be a string, number or boolean"],
    });
  });

  it("treats null as missing and renders numbers and booleans", () => {
    const t = { subject: "s", bodyText: "{{a}} {{b}} {{c}}", bodyHtml: null };
    expect(renderTemplate(t, { a: 0, b: false, c: "x" }).text).toBe("0 false x");
    expect(validationDetails(() => renderTemplate(t, { a: null, b: 1, c: 2 }))).toHaveProperty([
      "variables.a",
    ]);
  });

  it("never reads outside the given variables (no prototype lookups)", () => {
    const t = { subject: "s", bodyText: "{{constructor}} {{toString}}", bodyHtml: null };
    expect(validationDetails(() => renderTemplate(t, {}))).toEqual({
      "variables.constructor": ["Missing: the template uses this variable"],
      "variables.toString": ["Missing: the template uses this variable"],
    });
    // Nor through __proto__ or a nested object's inherited members, whatever the JSON carried.
    const nested = {
      subject: "s",
      bodyText: "{{__proto__.polluted}} {{order.constructor.name}}",
      bodyHtml: null,
    };
    const variables = JSON.parse('{"order": {"number": 1}, "__proto__": {"polluted": "yes"}}');
    expect(validationDetails(() => renderTemplate(nested, { order: { number: 1 } }))).toEqual({
      "variables.__proto__.polluted": ["Missing: the template uses this variable"],
      "variables.order.constructor.name": ["Missing: the template uses this variable"],
    });
    // An own "__proto__" key (as JSON.parse makes it) is just the caller's own value; nothing global changes.
    expect(() => renderTemplate(nested, variables)).toThrow();
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it("refuses malformed placeholders when a template is saved", () => {
    expect(
      validationDetails(() => checkTemplate({ subject: "Hi {{ name", bodyText: "ok", bodyHtml: null })),
    ).toEqual({ subject: ["Unbalanced {{ or }}"] });
    expect(
      validationDetails(() => checkTemplate({ subject: "ok", bodyText: "{{ 1abc }}", bodyHtml: "{{a b}}" })),
    ).toEqual({
      bodyText: ['"{{1abc}}" is not a variable name (letters, digits, _ and dots, e.g. {{order.number}})'],
      bodyHtml: ['"{{a b}}" is not a variable name (letters, digits, _ and dots, e.g. {{order.number}})'],
    });
  });

  it("escapes the five HTML-significant characters", () => {
    expect(escapeHtml(`<script>alert("x") & 'y'</script>`)).toBe(
      "&lt;script&gt;alert(&quot;x&quot;) &amp; &#39;y&#39;&lt;/script&gt;",
    );
  });
});
