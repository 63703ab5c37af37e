-- One row per order line, with its order and current product attributes.
-- line_revenue uses the price paid on the line (order_lines.unit_price).
with order_lines as (
    select * from {{ ref('stg_order_lines__order_lines') }}
),

orders as (
    select * from {{ ref('stg_orders__orders') }}
),

products as (
    select * from {{ ref('stg_products__products') }}
)

select
    order_lines.order_line_id,
    order_lines.order_id,
    orders.customer_id,
    orders.order_date,
    orders.status,
    orders.status = 'cancelled' as is_cancelled,
    order_lines.product_id,
    products.product_name,
    products.category,
    order_lines.quantity,
    order_lines.unit_price,
    round(order_lines.quantity * order_lines.unit_price, 2) as line_revenue
from order_lines
left join orders on orders.order_id = order_lines.order_id
left join products on products.product_id = order_lines.product_id
