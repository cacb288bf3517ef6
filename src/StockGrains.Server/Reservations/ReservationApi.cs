using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;
using StockGrains.Grains.Reservations;
using StockGrains.Reservations;
using StockGrains.Server.Http;
using StockGrains.Server.Security;

namespace StockGrains.Server.Reservations;

/// <summary>The order-reservation routes of API v1: place (all lines or none), read, commit, ship, release.</summary>
public static class ReservationApi
{
    public static IEndpointRouteBuilder MapReservationApi(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/v1/reservations").WithTags("Reservations");
        group.MapPost("", Place).WithName("PlaceReservation").WithSummary("Hold every line or none.")
            .Accepts<ReservationRequest>("application/json").RequireAuthorization(Access.Checkout);
        group.MapGet("/{reservationId}", Get).WithName("GetReservation").RequireAuthorization(Access.ReservationReader);
        group.MapPost("/{reservationId}/commit", (string reservationId, HttpRequest request, IGrainFactory grains) =>
            Transition(reservationId, request, grains, (g, actor) => g.CommitAsync(actor))).WithName("CommitReservation")
            .WithSummary("Preparing delivery: picked, not yet shipped.").RequireAuthorization(Access.Checkout);
        group.MapPost("/{reservationId}/ship", (string reservationId, HttpRequest request, IGrainFactory grains) =>
            Transition(reservationId, request, grains, (g, actor) => g.ShipAsync(actor))).WithName("ShipReservation")
            .WithSummary("Units leave on hand and reserved together.").RequireAuthorization(Access.Checkout);
        group.MapPost("/{reservationId}/release", (string reservationId, HttpRequest request, IGrainFactory grains) =>
            Transition(reservationId, request, grains, (g, actor) => g.ReleaseAsync(actor))).WithName("ReleaseReservation")
            .WithSummary("Let the units go.").RequireAuthorization(Access.Checkout);
        return app;
    }

    public static async Task<Results<Created<ReservationResponse>, Ok<ReservationResponse>, ProblemHttpResult>> Place(
        HttpRequest request, IGrainFactory grains, IOptions<ReservationOptions> options)
    {
        var validate = new Validate();
        var actor = Caller.Actor(request);
        var (body, problem) = await JsonBody.ReadAsync<ReservationRequest>(request);
        if (problem is not null)
        {
            return problem;
        }

        var limits = options.Value;
        validate.Id("reservationId", body!.ReservationId);
        if (body.TradePolicy is not null)
        {
            validate.Id("tradePolicy", body.TradePolicy);
        }

        // A client's own limits narrow the server's: the caps live with the client's identity and the grains re-check them.
        var caller = request.HttpContext.RequestServices.GetRequiredService<Identities>().From(request.HttpContext);
        var longest = Math.Min(limits.MaxTtlSeconds, caller?.MaxHoldSeconds ?? int.MaxValue);
        var most = Math.Min(Validate.MaxQuantity, caller?.MaxQuantityPerLine ?? long.MaxValue);
        validate.Check(body.TtlSeconds is null || (body.TtlSeconds >= 1 && body.TtlSeconds <= longest), "ttlSeconds",
            $"Must be from 1 to {longest}.");
        validate.Check(body.Lines is { Count: > 0 } && body.Lines.Count <= limits.MaxLines, "lines", $"Must hold 1 to {limits.MaxLines} lines.");
        var lines = new List<ReservationLineRequest>();
        var seen = new HashSet<(string, string)>();
        for (var i = 0; i < (body.Lines?.Count ?? 0); i++)
        {
            var line = body.Lines![i];
            var at = $"lines[{i}]";
            if (line is null)
            {
                validate.Add(at, "A line must be an object.");
                continue;
            }

            validate.Id($"{at}.sku", line.Sku).Quantity($"{at}.quantity", line.Quantity);
            if (line.Warehouse is null)
            {
                validate.Check(body.TradePolicy is not null, $"{at}.warehouse", "Name a warehouse, or a tradePolicy to allocate the line.");
            }
            else
            {
                validate.Id($"{at}.warehouse", line.Warehouse);
            }

            // One line per SKU and warehouse, and a SKU the policy allocates appears on no other line: otherwise two
            // lines would share one hold on one stock line.
            var where = line.Warehouse ?? "*";
            var clash = line.Sku is not null && (!seen.Add((where, line.Sku))
                || (where == "*" ? seen.Any(x => x.Item2 == line.Sku && x.Item1 != "*") : seen.Contains(("*", line.Sku))));
            if (clash)
            {
                validate.Add(at, "Another line names the same SKU there; put the whole quantity on one line.");
            }

            var (quantity, entered) = await Units.ToBaseAsync(grains, line.Sku!, line.Unit, line.Quantity ?? 0, $"{at}.unit", validate);
            validate.Check(quantity <= most, $"{at}.quantity", $"This client may reserve at most {most:N0} base units per line.");
            if (validate.Ok)
            {
                lines.Add(new ReservationLineRequest(line.Sku!, line.Warehouse, quantity, entered));
            }
        }

        if (!validate.Ok)
        {
            return validate.Problem();
        }

        var grain = grains.Reference<IReservationGrain>(body.ReservationId!);
        var result = await grain.PlaceAsync(new PlaceReservation(lines, body.TtlSeconds ?? 0, actor, body.TradePolicy));
        return result.Outcome switch
        {
            ReservationOutcome.Placed => TypedResults.Created($"/v1/reservations/{body.ReservationId}", ReservationResponse.From(result.Reservation!)),
            ReservationOutcome.AlreadyPlaced => TypedResults.Ok(ReservationResponse.From(result.Reservation!)),
            ReservationOutcome.InsufficientStock => Problems.Problem(StatusCodes.Status409Conflict, "insufficient_stock",
                "Not enough stock for every line; nothing is held.", null,
                new Dictionary<string, object?>
                {
                    ["reservationId"] = body.ReservationId,
                    ["shortLines"] = result.Reservation!.ShortLines
                        .Select(s => new { sku = s.Sku, warehouse = s.Warehouse, requested = s.Requested, available = s.Available }).ToList(),
                }),
            ReservationOutcome.UnknownTradePolicy => Problems.Problem(StatusCodes.Status400BadRequest, "validation_failed", "The request is not valid.",
                "See 'errors' for each field; nothing was changed.",
                new Dictionary<string, object?> { ["errors"] = new Dictionary<string, string[]> { ["tradePolicy"] = ["No such trade policy."] } }),
            ReservationOutcome.Forbidden => Access.NotOwner("reservation"),
            ReservationOutcome.HoldLimitReached => Problems.Problem(StatusCodes.Status409Conflict, "hold_limit_reached",
                "This client already keeps as many pending holds on a line as it may.", "Commit or release some of them; nothing is held.",
                new Dictionary<string, object?> { ["reservationId"] = body.ReservationId }),
            ReservationOutcome.LimitExceeded => Problems.Problem(StatusCodes.Status400BadRequest, "limit_exceeded",
                "The order asks for more units per line, or a longer hold, than this client may.", "Nothing was changed."),
            ReservationOutcome.InvalidRequest => Problems.Problem(StatusCodes.Status400BadRequest, "validation_failed", "The request is not valid.",
                "The order is malformed; nothing was changed."),
            ReservationOutcome.ReservationIdReused => Problems.Problem(StatusCodes.Status422UnprocessableEntity, "reservation_id_reused",
                "This reservationId was used with a different request.", "Use a new reservationId for a new order; nothing was changed."),
            _ => Unexpected(result.Outcome),
        };
    }

    public static async Task<Results<Ok<ReservationResponse>, ProblemHttpResult>> Get(string reservationId, IGrainFactory grains)
    {
        var validate = new Validate().Id("reservationId", reservationId);
        if (!validate.Ok)
        {
            return validate.Problem();
        }

        var result = await grains.Reference<IReservationGrain>(reservationId).GetAsync();
        if (result.Outcome == ReservationOutcome.Forbidden)
        {
            return Access.NotOwner("reservation");
        }

        return result.Reservation is { Status: not ReservationStatus.Refused } view
            ? TypedResults.Ok(ReservationResponse.From(view))
            : NotFound(reservationId);
    }

    private static async Task<Results<Ok<ReservationResponse>, ProblemHttpResult>> Transition(
        string reservationId, HttpRequest request, IGrainFactory grains, Func<IReservationGrain, string, Task<ReservationResult>> act)
    {
        var validate = new Validate().Id("reservationId", reservationId);
        var actor = Caller.Actor(request);
        if (!validate.Ok)
        {
            return validate.Problem();
        }

        var result = await act(grains.Reference<IReservationGrain>(reservationId), actor);
        return result.Outcome switch
        {
            ReservationOutcome.Committed or ReservationOutcome.Shipped or ReservationOutcome.Released or ReservationOutcome.Unchanged =>
                TypedResults.Ok(ReservationResponse.From(result.Reservation!)),
            ReservationOutcome.NotFound => NotFound(reservationId),
            ReservationOutcome.Forbidden => Access.NotOwner("reservation"),
            ReservationOutcome.InvalidTransition => Problems.Problem(StatusCodes.Status409Conflict, "invalid_transition",
                $"The reservation is {ReservationResponse.StatusName(result.Reservation!.Status)}.",
                "Commit needs a pending reservation, ship a committed one; a shipped reservation cannot be released.",
                new Dictionary<string, object?> { ["status"] = ReservationResponse.StatusName(result.Reservation.Status) }),
            _ => Unexpected(result.Outcome),
        };
    }

    private static ProblemHttpResult NotFound(string reservationId) =>
        Problems.Problem(StatusCodes.Status404NotFound, "reservation_not_found", "No such reservation.", $"'{reservationId}' holds nothing.");

    private static ProblemHttpResult Unexpected(ReservationOutcome outcome) =>
        Problems.Problem(StatusCodes.Status500InternalServerError, "unexpected_outcome", "The reservation answered unexpectedly.", outcome.ToString());
}
