// An error line is dismissed by a button the keyboard reaches too, and its text is the error alone.
import { cleanup, fireEvent, render, screen } from "@testing-library/react";
import { afterEach, expect, it, vi } from "vitest";
import { ErrorLine } from "./ErrorLine";

afterEach(cleanup);

it("offers a Dismiss button when it can be dismissed, and says only the error", () => {
  const dismiss = vi.fn();
  render(<ErrorLine error="The relay refused it." onDismiss={dismiss} />);
  expect(screen.getByRole("alert").textContent).toBe("The relay refused it.");
  const button = screen.getByRole("button", { name: "Dismiss" });
  button.focus();
  expect(document.activeElement).toBe(button);
  fireEvent.click(button);
  expect(dismiss).toHaveBeenCalled();
});

it("has no button when nothing dismisses it, and nothing at all without an error", () => {
  const { rerender } = render(<ErrorLine error="Offline." />);
  expect(screen.queryByRole("button")).toBeNull();
  rerender(<ErrorLine error={null} />);
  expect(screen.queryByRole("alert")).toBeNull();
});
